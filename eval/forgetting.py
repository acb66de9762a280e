"""Continual-learning metrics over the accuracy matrix R[g][j]: the accuracy of generation g (after the
g-th night) on the probes of memory-day j (docs/memory-anchors.md §3).

  ACC        = mean_j R[T][j]                                final average accuracy
  BWT        = mean_{j<T} (R[T][j] - R[j][j])                 negative = later nights hurt earlier days
  forgetting = mean_{j<T} (max_{l<T} R[l][j] - R[T][j])       Chaudhry et al. 2018

R is square over the nights evaluated; entries above the diagonal (a day not yet learned) may be None.
"""

from __future__ import annotations

from collections.abc import Sequence


def _check(R: Sequence[Sequence[float | None]]) -> int:
    T = len(R)
    if T == 0 or any(len(row) != T for row in R):
        raise ValueError("the accuracy matrix must be square and non-empty")
    for g in range(T):
        for j in range(g + 1):
            if R[g][j] is None:
                raise ValueError(f"R[{g}][{j}] is missing: day {j} must be evaluated after night {g}")
    return T


def acc(R: Sequence[Sequence[float | None]]) -> float:
    T = _check(R)
    return sum(R[T - 1][j] for j in range(T)) / T  # type: ignore[misc]


def bwt(R: Sequence[Sequence[float | None]]) -> float | None:
    T = _check(R)
    if T < 2:
        return None
    return sum(R[T - 1][j] - R[j][j] for j in range(T - 1)) / (T - 1)  # type: ignore[operator]


def forgetting(R: Sequence[Sequence[float | None]]) -> float | None:
    T = _check(R)
    if T < 2:
        return None
    return sum(max(R[l][j] for l in range(j, T - 1)) - R[T - 1][j] for j in range(T - 1)) / (T - 1)  # type: ignore


def summary(R: Sequence[Sequence[float | None]]) -> dict[str, float | None]:
    return {"acc": acc(R), "bwt": bwt(R), "forgetting": forgetting(R)}
