"""The default model's pretraining recipe: --smoke runs end to end in well under two minutes, and a run is
reproducible (same seed, same tokenizer and bit-identical weights)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

import torch

from model.bundle import load_bundle
from pretrain.recipe import PretrainConfig, pretrain


def test_smoke_runs_end_to_end_in_under_two_minutes(tmp_path):
    t = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pretrain.recipe", "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    took = time.monotonic() - t
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert took < 120, took
    summary = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert summary["tokens_seen"] > 0 and "heldout_bits_per_byte" in summary["final_eval"]
    bundle = load_bundle(tmp_path / "model.safetensors")  # the same loader as any checkpoint
    assert bundle.config.n_layer == PretrainConfig.smoke().n_layer
    assert bundle.tokenizer.vocab_size == PretrainConfig.smoke().vocab_size
    card = json.loads((tmp_path / "training.json").read_text())
    assert card["pretrain_config"]["seed"] == 0 and card["steps"] == PretrainConfig.smoke().steps


def _contents(path) -> tuple[dict, dict]:
    """Tensors and metadata. Not the file digest: safetensors writes the metadata map in hash order."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())  # noqa: SIM118


def test_same_seed_same_model(tmp_path):
    cfg = dataclasses.replace(PretrainConfig.smoke(), steps=4, eval_seeds=1, heldout_chars=500, eval_every=0)
    pretrain(cfg, tmp_path / "a", log=lambda _: None)
    pretrain(cfg, tmp_path / "b", log=lambda _: None)
    assert (tmp_path / "a" / "vocab.txt").read_text() == (tmp_path / "b" / "vocab.txt").read_text()
    (ta, ma), (tb, mb) = (
        _contents(tmp_path / "a" / "model.safetensors"),
        _contents(tmp_path / "b" / "model.safetensors"),
    )
    assert ma == mb and ta.keys() == tb.keys()
    assert all(torch.equal(ta[k], tb[k]) for k in ta)  # bit-identical weights


def test_the_mix_after_the_copy_warmup_keeps_its_proportions():
    """The warmup is only passages read twice (no chat); right after it, chats and general text
    alternate at chat_fraction (the warmup's tokens must not count as general text, or the mix would
    open with millions of chat-only tokens)."""
    from itertools import islice

    from model.tokenizer import world_tokenizer
    from pretrain.recipe import documents

    cfg = dataclasses.replace(
        PretrainConfig.smoke(), copy_warmup_tokens=6_000, answer_weight=5.0, repeat_weight=4.0
    )
    cfg = dataclasses.replace(cfg, chat_fraction=0.5, repeat_fraction=1.0)
    stream = (w for doc in documents(cfg, world_tokenizer()) for w in doc.weights)
    weights = list(islice(stream, 40_000))
    end = weights.index(5.0)  # the first chat answer: the warmup is over
    assert end >= 6_000 and 4.0 in weights[:end]  # the warmup: copies only
    assert 4.0 in weights[end : end + 3_000]  # general text again within a few chats, not 6,000 tokens later


def test_rows_never_cut_a_chat():
    """Each row starts from the zero state: a chat's questions must be in the same row as its facts. General
    text fills the room a waiting chat leaves and may be cut anywhere."""
    import random
    from itertools import islice

    from pretrain.recipe import Document, pack_rows

    rng = random.Random(0)
    is_chat: dict[int, bool] = {}

    def docs():
        n = 0
        while True:
            n += 1
            is_chat[n] = rng.random() < 0.7
            length = rng.randint(5, 40) if is_chat[n] else rng.randint(1, 90)
            # token = (document, position, length): a cut shows as a document with a missing part
            yield Document([(n, i, length) for i in range(length)], [1.0] * length, is_chat[n])

    complete_chats = cut_general = 0
    for ids, weights in islice(pack_rows(docs(), 50), 400):
        assert len(ids) == len(weights) == 50
        parts: dict[int, list[int]] = {}
        for t in ids:
            if t != 0:  # EOD padding
                parts.setdefault(t[0], []).append(t[1])
        for n, positions in parts.items():
            length = next(t[2] for t in ids if t != 0 and t[0] == n)
            if is_chat[n]:
                assert positions == list(range(length)), f"chat {n} was cut"
                complete_chats += 1
            elif len(positions) < length:
                cut_general += 1
    assert complete_chats > 300 and cut_general > 50
