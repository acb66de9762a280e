"""The default model's pretraining recipe: --smoke runs end to end in well under two minutes, and a run is
reproducible (same seed, same tokenizer and bit-identical weights)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import time

from model.bundle import load_bundle
from tuner.pretrain import PretrainConfig, pretrain


def test_smoke_runs_end_to_end_in_under_two_minutes(tmp_path):
    t = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "tuner.pretrain", "--smoke", "--out", str(tmp_path)],
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


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_model(tmp_path):
    cfg = dataclasses.replace(PretrainConfig.smoke(), steps=4, eval_seeds=1, heldout_chars=500, eval_every=0)
    pretrain(cfg, tmp_path / "a", log=lambda _: None)
    pretrain(cfg, tmp_path / "b", log=lambda _: None)
    assert (tmp_path / "a" / "vocab.txt").read_text() == (tmp_path / "b" / "vocab.txt").read_text()
    assert _digest(tmp_path / "a" / "model.safetensors") == _digest(tmp_path / "b" / "model.safetensors")
