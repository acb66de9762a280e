"""Measurements shared by the pretraining recipe, the gates and the benchmarks."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from eval.world.scoring import is_abstention, score_answer
from model.chat_format import STOP_STRINGS, format_messages
from model.generate import SamplingConfig, generate
from model.rwkv7 import RWKV7
from model.state import State
from model.tokenizer import EOD_ID, TrieTokenizer

# Short greedy answers: the first line is what score_answer reads.
ANSWER_SAMPLING = SamplingConfig(max_tokens=24, temperature=0.0, stop=(*STOP_STRINGS, "\n"))


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


@dataclass(frozen=True)
class Asked:
    """A question put to the model: optional chat context before it, the ground truth, and wrong values."""

    question: str
    answer: str
    wrong_answers: tuple[str, ...] = ()
    context: tuple[dict[str, str], ...] = ()  # chat messages said before the question (context override)
    abstain: bool = False  # the right answer is "I don't know"
    raw: bool = False  # `question` is already a transcript prefix to continue (a cloze probe)
    cycle_id: int | None = None  # the cycle whose memory it asks about (the memory-day of forgetting metrics)

    def prompt(self) -> str:
        if self.raw:
            return self.question
        return format_messages([*self.context, {"role": "user", "content": self.question}], True)


@torch.no_grad()
def answers(
    model: RWKV7, tok: TrieTokenizer, asked: Sequence[Asked], state: State | None = None
) -> list[str]:
    """Greedy replies to each question, every one starting from `state` (the memory being tested)."""
    return [generate(model, tok, a.prompt(), state, ANSWER_SAMPLING).text for a in asked]


def accuracy(replies: Iterable[str], asked: Sequence[Asked]) -> float:
    """Share of replies that give the right answer and none of the wrong ones (abstentions score
    "I don't know"-style replies)."""
    results = [
        is_abstention(r) if a.abstain else score_answer(r, a.answer, a.wrong_answers)
        for r, a in zip(replies, asked, strict=True)
    ]
    return sum(results) / len(results) if results else float("nan")
