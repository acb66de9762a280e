"""Scorers: surprise and the judge from one batched pass, their self-checks, the remote judge, embeddings."""

from __future__ import annotations

import dataclasses
import json
import math
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import numpy as np
import pytest
import torch

from model.chat_format import normalize_content
from reflection.config import ReflectionConfig
from reflection.embeddings import Embedder, max_similarity, text_key
from reflection.scorers import (
    JUDGE_QUESTION,
    ScoreInput,
    _answer_tokens,
    model_scores,
    percentiles,
    remote_judge,
)

TEXTS = [
    "I moved to Lisbon last week.",
    "Thanks!",
    "My sister Ana is a nurse at the city hospital and she works nights on weekends.",
    "ok",
]


def _direct(bundle, state, role_prefix: str, text: str):
    """The same numbers computed the slow, obvious way: one sequence, full logits."""
    tok = bundle.tokenizer
    head = tok.encode(role_prefix)
    content = tok.encode(" " + normalize_content(text))
    answer = _answer_tokens(tok)
    assert answer is not None
    seq = head + content + tok.encode("\n\n") + tok.encode(JUDGE_QUESTION) + answer[0]
    with torch.no_grad():
        logits, _ = bundle.model(torch.tensor([seq]), state)
    logp = torch.log_softmax(logits[0].float(), dim=-1)
    s = len(head)
    nll = [-float(logp[t - 1, seq[t]]) for t in range(s, s + len(content))]
    probs = torch.softmax(logits[0, -1].float(), dim=-1)
    py, pn = float(probs[answer[1]].sum()), float(probs[answer[2]].sum())
    return sum(nll) / len(nll), py / (py + pn)


# A random model fails the judge's self-check; these tests ask it anyway, to check the arithmetic.
ASK_ANYWAY = dataclasses.replace(ReflectionConfig(), judge_min_margin=-1.0)


def test_batched_scores_match_a_direct_computation(tiny_bundle):
    cfg = dataclasses.replace(ASK_ANYWAY, batch_tokens=256)  # forces several batches of different widths
    out = model_scores(tiny_bundle, None, [ScoreInput("user", t) for t in TEXTS], cfg)
    assert len(out.loss) == len(TEXTS) and out.p_yes is not None
    zero = tiny_bundle.model.zero_state(1)
    for i, text in enumerate(TEXTS):
        loss, p = _direct(tiny_bundle, zero, "User:", text)
        assert out.loss[i] == pytest.approx(loss, rel=1e-4, abs=1e-4)
        assert out.p_yes[i] == pytest.approx(p, rel=1e-4, abs=1e-5)
        assert out.tokens[i] == len(tiny_bundle.tokenizer.encode(" " + text))


def test_padding_and_batch_neighbours_do_not_change_a_score(tiny_bundle):
    alone = model_scores(tiny_bundle, None, [ScoreInput("user", TEXTS[1])], ASK_ANYWAY)
    crowd = model_scores(
        tiny_bundle, None, [ScoreInput("user", t) for t in [TEXTS[2], TEXTS[1], TEXTS[0]]], ASK_ANYWAY
    )
    assert crowd.loss[1] == pytest.approx(alone.loss[0], abs=1e-5)
    assert crowd.p_yes[1] == pytest.approx(alone.p_yes[0], abs=1e-6)


def test_random_model_switches_both_scorers_off(tiny_bundle):
    out = model_scores(tiny_bundle, None, [ScoreInput("user", t) for t in TEXTS])
    vocab = tiny_bundle.tokenizer.vocab_size
    assert np.mean(out.loss) > 0.85 * math.log(vocab)  # a random model is guessing
    assert not out.surprise_active
    assert not out.judge_active and out.p_yes is None  # not even asked
    assert any(n.startswith("surprise off") for n in out.notes)
    assert any(n.startswith("judge off") for n in out.notes)
    # The gates are thresholds, not switches: loosened, the same numbers count.
    loose = dataclasses.replace(ASK_ANYWAY, surprise_max_loss_ratio=2.0)
    out2 = model_scores(tiny_bundle, None, [ScoreInput("user", t) for t in TEXTS], loose)
    assert out2.surprise_active and out2.judge_active and len(out2.p_yes) == len(TEXTS)
    assert out2.loss == pytest.approx(out.loss, abs=1e-5)  # the appended question changes no loss


def test_state_matters_and_base_loss_is_measured_only_for_a_learned_state(tiny_bundle):
    inputs = [ScoreInput("user", t) for t in TEXTS]
    base = model_scores(tiny_bundle, None, inputs)
    assert base.base_loss is None  # the base state is its own base
    g = torch.Generator().manual_seed(3)
    state = tiny_bundle.model.zero_state(1)
    state.wkv.copy_(torch.randn(state.wkv.shape, generator=g))
    learned = model_scores(tiny_bundle, state, inputs)
    assert learned.base_loss is not None
    assert learned.base_loss == pytest.approx(base.loss, abs=1e-5)
    assert any(abs(a - b) > 1e-4 for a, b in zip(learned.loss, base.loss, strict=True))


def test_answer_tokens_differ_after_the_shared_prefix(tiny_bundle):
    common, yes, no = _answer_tokens(tiny_bundle.tokenizer)
    assert tiny_bundle.tokenizer.decode(common) == " "  # bytes: " Yes" and " No" share the space
    assert not set(yes) & set(no)


def test_percentiles():
    assert percentiles([3.0, 1.0, 2.0]) == [1.0, 0.0, 0.5]
    assert percentiles([1.0, 1.0, 5.0]) == [0.25, 0.25, 1.0]
    assert percentiles([float("nan"), 2.0, 1.0]) == [0.5, 1.0, 0.0]
    assert percentiles([4.0]) == [0.5]


# ---------------------------------------------------------------------------------------------- remote


class _Judge(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Judge.seen.append(body)
        text = body["messages"][-1]["content"]
        yes = -0.1 if "Lisbon" in text else -3.0
        reply = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "length",
                    "message": {"role": "assistant", "content": "Yes"},
                    "logprobs": {
                        "content": [
                            {
                                "token": "Yes",
                                "logprob": yes,
                                "bytes": None,
                                "top_logprobs": [
                                    {"token": "Yes", "logprob": yes, "bytes": None},
                                    {"token": "No", "logprob": math.log(1 - math.exp(yes)), "bytes": None},
                                ],
                            }
                        ]
                    },
                }
            ],
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_remote_judge_reads_logprobs_and_sends_only_what_it_is_given():
    server = HTTPServer(("127.0.0.1", 0), _Judge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cfg = ReflectionConfig(
            judge_endpoint=f"http://127.0.0.1:{server.server_port}/v1", judge_model="m", judge_timeout_s=5
        )
        out = remote_judge(["We moved to Lisbon.", "lol ok"], cfg)
    finally:
        server.shutdown()
    assert out.p_yes[0] == pytest.approx(math.exp(-0.1), abs=1e-6)
    assert out.p_yes[1] == pytest.approx(math.exp(-3.0), abs=1e-6)
    assert "[REDACTED" not in json.dumps(_Judge.seen) and "Lisbon" in json.dumps(_Judge.seen)


def test_remote_judge_failure_falls_back():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = ReflectionConfig(judge_endpoint=f"http://127.0.0.1:{port}/v1", judge_model="m", judge_timeout_s=1)
    out = remote_judge(["a", "b"], cfg)
    assert out.p_yes == [None, None]
    assert "failed" in out.notes[0] and "local judge" in out.notes[0]
    assert remote_judge(["a"], ReflectionConfig()).p_yes == [None]  # off by default


# ---------------------------------------------------------------------------------------------- embeddings


def test_embeddings_are_normalised_cached_and_find_near_duplicates(embedder):
    texts = ["I moved to Lisbon last week.", "Last week I moved to Lisbon.", "My dog likes carrots."]
    v = embedder.encode(texts)
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    before = embedder.encoded
    embedder.encode(texts[:2])
    assert embedder.encoded == before  # cached
    cos, idx = max_similarity(v[:1], v[1:])
    assert idx[0] == 0 and cos[0] > 0.9
    assert float(v[0] @ v[2]) < 0.5


def test_disk_cache_keeps_only_active_texts(embedder, tmp_path):
    path = tmp_path / "cache" / "emb.npz"
    e = Embedder(cache_path=path)
    e._model = embedder.model  # share the loaded model
    e.encode(["keep me", "forget me"])
    e.save(keep=["keep me"])
    with np.load(path) as data:
        assert list(data["keys"]) == [text_key("keep me")]
    fresh = Embedder(cache_path=path)
    fresh._model = embedder.model
    fresh.encode(["keep me"])
    assert fresh.encoded == 0  # read from disk
    path.write_bytes(b"not a cache")
    broken = Embedder(cache_path=path)
    broken._model = embedder.model
    assert broken.encode(["keep me"]).shape == (1, 384)  # a bad cache file is ignored
