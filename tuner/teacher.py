"""Teacher targets for context distillation, computed once per night and cached in the cycle directory.

For each query and each of its context variants the frozen model reads [memory context + prompt + answer]
from the base state; at every answer position we keep the teacher's top-k next-token log-probabilities
plus the log of the remaining mass. Sparse targets keep the cache small for 65k-token vocabularies, and
the KL over (top-k + one "rest" bucket) is exact for the distribution coarsened that way.

Anchor targets are the base model's distributions on general text windows, also top-k.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from model.fileio import atomic_write_with
from model.rwkv7 import RWKV7
from model.state import State
from model.tokenizer import EOD_ID, TrieTokenizer
from tuner.data import MemoryText, Query, teacher_contexts

log = logging.getLogger(__name__)


@dataclass
class Target:
    """One training example: the student's tokens and the teacher's answer distributions."""

    student_ids: list[int]  # prompt + answer (or a general-text window for the anchor)
    first: int  # index in student_ids of the first scored token (positions first-1 .. len-2 predict them)
    topk_idx: torch.Tensor  # [A, k] int64: teacher's top-k token ids at each scored position
    topk_logp: torch.Tensor  # [A, k] float32
    rest_logp: torch.Tensor  # [A] float32: log of the mass outside the top-k
    item_id: int = -1  # -1 for anchor windows
    replay: bool = False

    def to_dict(self) -> dict:
        return {
            "student_ids": torch.tensor(self.student_ids, dtype=torch.int64),
            "first": self.first,
            "topk_idx": self.topk_idx,
            "topk_logp": self.topk_logp,
            "rest_logp": self.rest_logp,
            "item_id": self.item_id,
            "replay": self.replay,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Target:
        return cls(
            student_ids=d["student_ids"].tolist(),
            first=d["first"],
            topk_idx=d["topk_idx"],
            topk_logp=d["topk_logp"],
            rest_logp=d["rest_logp"],
            item_id=d["item_id"],
            replay=d["replay"],
        )


def sparse_targets(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[A, V] logits -> top-k ids, top-k log-probs and log of the rest."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    k = min(k, logp.shape[-1])
    top_logp, top_idx = torch.topk(logp, k, dim=-1)
    rest = torch.log1p(-top_logp.exp().sum(-1).clamp(max=1 - 1e-7))
    return top_idx, top_logp, rest


@torch.no_grad()
def _score_positions(
    model: RWKV7,
    sequences: list[list[int]],
    spans: list[tuple[int, int]],
    state: State,
    k: int,
    batch: int = 16,
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """For each sequence, the sparse next-token distributions at positions [start, end)."""
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))  # similar lengths pad less
    results: dict[int, tuple] = {}
    for j in range(0, len(order), batch):
        idx = order[j : j + batch]
        T = max(len(sequences[i]) for i in idx)
        tokens = torch.full((len(idx), T), EOD_ID, dtype=torch.long)
        for row, i in enumerate(idx):
            tokens[row, : len(sequences[i])] = torch.tensor(sequences[i])
        hidden, _ = model.hidden(tokens, state)
        for row, i in enumerate(idx):
            start, end = spans[i]
            logits = model.head(model.ln_out(hidden[row, start:end]))
            results[i] = sparse_targets(logits, k)
    return [results[i] for i in range(len(sequences))]


def query_targets(
    model: RWKV7,
    tokenizer: TrieTokenizer,
    queries: Sequence[Query],
    context_pool: Sequence[MemoryText],
    base_state: State,
    *,
    variants: int,
    max_items: int,
    k: int,
    rng: random.Random,
    replay: bool = False,
) -> list[Target]:
    seqs, spans, meta = [], [], []
    hard: list[Target] = []
    for q in queries:
        prompt_ids = tokenizer.encode(q.prompt)
        answer_ids = tokenizer.encode(q.answer)
        if not prompt_ids or not answer_ids:
            continue
        student = prompt_ids + answer_ids
        if q.hard:  # the target by construction ("I don't know." where the teacher named a value)
            vocab = model.config.vocab_size
            hard.append(hard_target(student, len(prompt_ids), k, vocab, q.item_id, replay))
            continue
        for ctx in teacher_contexts(q, context_pool, variants, max_items, rng):
            ctx_ids = tokenizer.encode(ctx)
            seqs.append(ctx_ids + student)
            # Positions that predict answer tokens: from the last prompt token to the second-to-last token.
            start = len(ctx_ids) + len(prompt_ids) - 1
            spans.append((start, start + len(answer_ids)))
            meta.append((student, len(prompt_ids), q.item_id))
    scored = _score_positions(model, seqs, spans, base_state, k) if seqs else []
    return [
        Target(student, first, idx, logp, rest, item_id, replay)
        for (student, first, item_id), (idx, logp, rest) in zip(meta, scored, strict=True)
    ] + hard


HARD_EPS = 1e-4  # probability mass a one-hot target leaves to every other token together


def hard_target(
    student_ids: list[int], first: int, k: int, vocab: int, item_id: int = -1, replay: bool = False
) -> Target:
    """A target that puts 1 - eps on each of student_ids[first:] (the same top-k layout as the teacher's,
    so hard and soft targets batch together)."""
    k = min(k, vocab)
    answer = student_ids[first:]
    idx = torch.empty(len(answer), k, dtype=torch.int64)
    for a, tok in enumerate(answer):
        others = [t for t in range(k) if t != tok][: k - 1]
        idx[a] = torch.tensor([tok, *others])
    other = HARD_EPS / (vocab - 1)
    logp = torch.full((len(answer), k), math.log(other))
    logp[:, 0] = math.log(1 - HARD_EPS)
    rest = torch.full((len(answer),), math.log(other * (vocab - k)) if vocab > k else -30.0)
    return Target(student_ids, first, idx, logp, rest, item_id, replay)


def anchor_targets(
    model: RWKV7,
    tokenizer: TrieTokenizer,
    texts: Sequence[str],
    base_state: State,
    *,
    window: int,
    count: int,
    k: int,
    rng: random.Random,
) -> list[Target]:
    """`count` windows of `window` tokens from the general texts, scored by the base model."""
    ids = [tokenizer.encode(t) for t in texts]
    ids = [x for x in ids if len(x) > window + 1] or [x for x in ids if len(x) > 8]
    if not ids:
        return []
    seqs, spans = [], []
    for _ in range(count):
        doc = rng.choice(ids)
        w = min(window + 1, len(doc))
        start = rng.randrange(0, len(doc) - w + 1)
        seqs.append(doc[start : start + w])
        spans.append((0, w - 1))
    scored = _score_positions(model, seqs, spans, base_state, k)
    return [
        Target(s[:-1] + s[-1:], 1, idx, logp, rest) for s, (idx, logp, rest) in zip(seqs, scored, strict=True)
    ]


def fingerprint(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()


def save_targets(path: Path, key: str, targets: dict[str, list[Target]], report: dict | None = None) -> None:
    """Targets and the verification report that chose them (JSON), keyed by everything they depend on."""
    payload = {
        "key": key,
        "report": json.dumps(report or {}),
        **{name: [t.to_dict() for t in ts] for name, ts in targets.items()},
    }
    atomic_write_with(path, lambda tmp: torch.save(payload, tmp))


def load_targets(path: Path, key: str) -> tuple[dict[str, list[Target]], dict] | None:
    """(targets, report) from the cache, or None when it is missing, stale or unreadable (recomputed)."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, weights_only=True)
    except Exception as e:  # torn, foreign or from another torch: recomputed, never trusted
        log.warning(
            "teacher targets %s unreadable (%s): recomputing them", path, str(e).splitlines()[0][:200]
        )
        return None
    if payload.get("key") != key:
        return None
    targets = {
        name: [Target.from_dict(d) for d in v] for name, v in payload.items() if name not in ("key", "report")
    }
    return targets, json.loads(payload.get("report") or "{}")
