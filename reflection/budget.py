"""Budget fitting: which scored segments fit into tonight's token budget.

The budget is a fraction of the day's tokens, an absolute number of tokens, or the smaller of both. Selection
is greedy and never exceeds the budget: candidates are visited in priority order and each one is kept if it
still fits, otherwise skipped (a later, shorter one may still fit).

Priority order, by `strategy`:
- "density" (default): score per token first, the fractional-knapsack rule. With a score that reads as "how
  likely this is needed later" (salience.py's logistic value), it maximises the expected number of useful
  segments in the budget. Measured on the LoCoMo evidence-recall harness (reflection/locomo.py, 30% of
  tokens): 0.567 evidence recall against 0.485 for "score".
- "score": highest score first, whatever the length. Use it when scores are not per-segment probabilities,
  e.g. a judge that rates "importance" on a scale where long segments are not penalised for their cost.

Ties break deterministically ("score": shorter first; "density": higher score first; then earlier position),
so the selection is a pure function of the input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from reflection.salience import Score
from reflection.segments import Segment

Strategy = Literal["score", "density"]


@dataclass(frozen=True)
class BudgetConfig:
    fraction: float | None = 0.3  # of the day's total tokens
    max_tokens: int | None = None  # absolute cap; with both set, the smaller budget wins
    strategy: Strategy = "density"
    min_score: float = 0.0  # segments scoring at or below this are never kept, whatever the budget
    # Floor for the fraction budget: on a quiet day (one "my dog is called Biscuit" and a reply) 30% of
    # the tokens is too small to hold any whole sentence, and the fact would never be kept.
    min_tokens: int = 0


@dataclass(frozen=True)
class Candidate:
    segment: Segment
    score: Score


@dataclass(frozen=True)
class Decision:
    candidate: Candidate
    kept: bool
    rank: int  # position in the priority order (0 = considered first)
    reason: str


@dataclass(frozen=True)
class Selection:
    decisions: list[Decision]  # in input order
    kept_tokens: int
    budget_tokens: int
    total_tokens: int

    @property
    def kept(self) -> list[Candidate]:
        return [d.candidate for d in self.decisions if d.kept]

    @property
    def dropped(self) -> list[Candidate]:
        return [d.candidate for d in self.decisions if not d.kept]

    def as_dry_run(self) -> dict:
        """The `reflect --dry-run --json` shape (docs/ARCHITECTURE.md); the budget verdict comes last."""

        def row(d: Decision, with_text: bool) -> dict:
            out: dict = {"source_message_ids": list(d.candidate.segment.source_message_ids)}
            if with_text:
                out["text"] = d.candidate.segment.text
            out["score"] = d.candidate.score.value
            out["reasons"] = [*d.candidate.score.reasons, d.reason]
            return out

        return {
            "total_tokens": self.total_tokens,
            "kept_tokens": self.kept_tokens,
            "kept": [row(d, True) for d in self.decisions if d.kept],
            "dropped": [row(d, False) for d in self.decisions if not d.kept],
        }


def budget_tokens(total_tokens: int, config: BudgetConfig = BudgetConfig()) -> int:
    """The token budget for a day of `total_tokens`: the fraction (at least `min_tokens`, at most the whole
    day), capped by `max_tokens`."""
    if config.fraction is None and config.max_tokens is None:
        raise ValueError("budget needs a fraction, an absolute number of tokens, or both")
    limits = []
    if config.fraction is not None:
        if not 0.0 <= config.fraction <= 1.0:
            raise ValueError(f"budget fraction must be in [0, 1], got {config.fraction}")
        limits.append(max(int(config.fraction * total_tokens), min(config.min_tokens, total_tokens)))
    if config.max_tokens is not None:
        if config.max_tokens < 0:
            raise ValueError(f"budget max_tokens must be >= 0, got {config.max_tokens}")
        limits.append(config.max_tokens)
    return min(limits)


def priority_key(candidate: Candidate, index: int, strategy: Strategy) -> tuple:
    seg, value = candidate.segment, candidate.score.value
    if strategy == "score":
        return (-value, seg.token_count, seg.position, index)
    if strategy == "density":
        return (-value / max(seg.token_count, 1), -value, seg.position, index)
    raise ValueError(f"unknown budget strategy {strategy!r}; use 'score' or 'density'")


def fit_budget(
    candidates: Iterable[Candidate], budget: int, strategy: Strategy = "density", min_score: float = 0.0
) -> Selection:
    """Greedy selection under `budget` tokens. Never exceeds it; deterministic."""
    items = list(candidates)
    order = sorted(range(len(items)), key=lambda i: priority_key(items[i], i, strategy))
    used = 0
    verdict: dict[int, Decision] = {}
    for rank, i in enumerate(order):
        c = items[i]
        tokens = c.segment.token_count
        if c.score.value <= min_score:
            verdict[i] = Decision(
                c, False, rank, f"score {c.score.value:.3f} at or below floor {min_score:.3f}"
            )
        elif used + tokens <= budget:
            used += tokens
            verdict[i] = Decision(c, True, rank, f"kept: rank {rank + 1} of {len(items)} by {strategy}")
        else:
            verdict[i] = Decision(c, False, rank, f"over budget ({used}+{tokens} > {budget} tokens)")
    total = sum(c.segment.token_count for c in items)
    return Selection([verdict[i] for i in range(len(items))], used, budget, total)


def select(candidates: Iterable[Candidate], config: BudgetConfig = BudgetConfig()) -> Selection:
    """Budget from the candidates' own total tokens, then `fit_budget`."""
    items = list(candidates)
    total = sum(c.segment.token_count for c in items)
    return fit_budget(items, budget_tokens(total, config), config.strategy, config.min_score)
