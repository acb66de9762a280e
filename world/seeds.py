"""Seed spaces. Evaluation and pretraining never share a persona.

- Evaluation (persona worlds, the in-context recall eval set, gates, demo, benchmarks): seeds 0..999.
- Pretraining chats for the default model: seeds >= 1_000_000.
- Seeds 1000..999_999 are reserved (free for tests or future uses that must not collide with either).

Every generator derives its random stream from a namespaced string ("sleepd-world/7", "sleepd-chat/7"),
so even equal seeds in different generators give unrelated streams; the ranges make the separation
explicit and checkable.
"""

from __future__ import annotations

EVAL_SEED_LIMIT = 1000
PRETRAIN_SEED_MIN = 1_000_000


def check_eval_seed(seed: int) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < EVAL_SEED_LIMIT:
        raise ValueError(f"evaluation seeds must be integers in [0, {EVAL_SEED_LIMIT}), got {seed!r}")
    return seed


def check_pretrain_seed(seed: int) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < PRETRAIN_SEED_MIN:
        raise ValueError(f"pretraining seeds must be integers >= {PRETRAIN_SEED_MIN}, got {seed!r}")
    return seed
