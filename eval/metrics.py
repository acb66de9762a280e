"""Asking a model questions and scoring its answers: shared by the gates, the pretraining recipe and the
benchmarks. (Bits per byte, a property of the model on text, is model.bpb.)"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from model.chat_format import STOP_STRINGS, format_messages
from model.generate import SamplingConfig, generate_greedy_batch
from model.rwkv7 import RWKV7
from model.state import State
from model.tokenizer import TrieTokenizer
from world.scoring import is_abstention, score_answer

# Short greedy answers: the first line is what score_answer reads.
ANSWER_SAMPLING = SamplingConfig(max_tokens=24, temperature=0.0, stop=(*STOP_STRINGS, "\n"))


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
    """Greedy replies to each question, every one starting from `state` (the memory being tested);
    decoded in batches (model.generate.generate_greedy_batch: the same replies as one by one)."""
    return generate_greedy_batch(model, tok, [a.prompt() for a in asked], state, ANSWER_SAMPLING)


def accuracy(replies: Iterable[str], asked: Sequence[Asked]) -> float:
    """Share of replies that give the right answer and none of the wrong ones (abstentions score
    "I don't know"-style replies)."""
    results = [
        is_abstention(r) if a.abstain else score_answer(r, a.answer, a.wrong_answers)
        for r, a in zip(replies, asked, strict=True)
    ]
    return sum(results) / len(results) if results else float("nan")
