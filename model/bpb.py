"""Bits per UTF-8 byte of a text read from a state: the language-modelling measure of the general gate, the
pretraining recipe and the benchmarks."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from model.rwkv7 import RWKV7
from model.state import State
from model.tokenizer import EOD_ID, TrieTokenizer


@torch.no_grad()
def bits_per_byte(
    model: RWKV7, tok: TrieTokenizer, text: str, state: State | None = None, window: int = 1024
) -> float:
    """Bits per UTF-8 byte of `text` read from `state` (zero state by default). The text is scored in
    windows that carry the state, so every token is predicted from everything before it; the first token
    is predicted after the end-of-document token."""
    ids = tok.encode(text)
    if not ids:
        raise ValueError("bits_per_byte needs a non-empty text")
    inputs = [EOD_ID, *ids[:-1]]
    nll = 0.0
    for start in range(0, len(ids), window):
        logits, state = model(torch.tensor([inputs[start : start + window]]), state)
        target = torch.tensor(ids[start : start + window])
        nll += F.cross_entropy(logits[0].float(), target, reduction="sum").item()
    return nll / math.log(2) / len(text.encode("utf-8"))
