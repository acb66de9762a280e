"""Losses of the tuner, computed from the student's hidden states at the scored positions only (the head
is the largest matrix of a small-vocabulary-free model, so it is applied where a loss needs it)."""

from __future__ import annotations

import torch

from model.rwkv7 import RWKV7
from model.state import State
from model.tokenizer import EOD_ID
from tuner.teacher import Target


def batch_tokens(sequences: list[list[int]]) -> torch.Tensor:
    """Right-padded [B, T] token batch; padding comes after every scored position, so the recurrence
    never lets it influence them."""
    T = max(len(s) for s in sequences)
    tokens = torch.full((len(sequences), T), EOD_ID, dtype=torch.long)
    for i, s in enumerate(sequences):
        tokens[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return tokens


def scored_hidden(model: RWKV7, targets: list[Target], state: State) -> torch.Tensor:
    """Final hidden states at every scored position of every target, concatenated: [A_total, C]."""
    hidden, _ = model.hidden(batch_tokens([t.student_ids for t in targets]), state)
    rows, cols = [], []
    for b, t in enumerate(targets):
        n = len(t.student_ids) - t.first
        rows.append(torch.full((n,), b, dtype=torch.long))
        cols.append(torch.arange(t.first - 1, t.first - 1 + n))
    return hidden[torch.cat(rows), torch.cat(cols)]


def distill_kl(model: RWKV7, targets: list[Target], state: State) -> torch.Tensor:
    """Mean per-token KL(teacher || student) over the teacher's top-k plus one bucket for the rest."""
    h = scored_hidden(model, targets, state)
    logq = torch.log_softmax(model.head(model.ln_out(h)), dim=-1)  # [A, V]
    idx = torch.cat([t.topk_idx for t in targets])  # [A, k]
    logp = torch.cat([t.topk_logp for t in targets]).to(logq.dtype)  # [A, k]
    rest_p = torch.cat([t.rest_logp for t in targets]).to(logq.dtype)  # [A]
    q_top = logq.gather(1, idx)  # [A, k]
    p_top = logp.exp()
    kl_top = (p_top * (logp - q_top)).sum(-1)
    q_rest = torch.log1p(-q_top.exp().sum(-1).clamp(max=1 - 1e-7))
    kl_rest = rest_p.exp() * (rest_p - q_rest)
    return (kl_top + kl_rest).mean()


def lm_loss(model: RWKV7, sequences: list[list[int]], state: State) -> torch.Tensor:
    """Next-token cross-entropy over whole sequences (the kept text itself), from the given state."""
    targets = [
        Target(s, 1, torch.zeros(0, 0, dtype=torch.long), torch.zeros(0, 0), torch.zeros(0))
        for s in sequences
        if len(s) > 1
    ]
    h = scored_hidden(model, targets, state)
    logits = model.head(model.ln_out(h))
    labels = torch.cat([torch.tensor(t.student_ids[1:]) for t in targets])
    return torch.nn.functional.cross_entropy(logits, labels)
