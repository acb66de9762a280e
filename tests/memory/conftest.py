"""Fixtures for the memory tests: a migrated temp database and a generation store with generation 0."""

from __future__ import annotations

import pytest
from support import TINY

from memory.generations import GenerationStore

BASE_SHA = "ab" * 32


@pytest.fixture
def store(db, tmp_path):
    """A store whose generation 0 (zero state, base) is current."""
    from model.state import State

    st = GenerationStore(db, tmp_path / "generations")
    st.create_generation(
        state=State.zeros(TINY),
        status="base",
        make_current=True,
        base_model_id="tiny",
        base_model_sha256=BASE_SHA,
        model_config=TINY.to_dict(),
    )
    return st


def random_state(seed: int):
    import torch

    from model.state import State

    g = torch.Generator().manual_seed(seed)
    s = State.zeros(TINY)
    s.wkv.copy_(torch.randn(s.wkv.shape, generator=g))
    s.att_shift.copy_(torch.randn(s.att_shift.shape, generator=g))
    s.ffn_shift.copy_(torch.randn(s.ffn_shift.shape, generator=g))
    return s


@pytest.fixture
def make_state():
    """make_state(seed) -> a random State with the TINY shape."""
    return random_state


@pytest.fixture
def tiny_cfg():
    return TINY


@pytest.fixture
def new_gen(store, make_state):
    """new_gen(parent, seed, **kw) -> id of a new candidate generation."""

    def make(parent: int, seed: int, **kw) -> int:
        return store.create_generation(
            state=make_state(seed), parent_id=parent, base_model_id="tiny", base_model_sha256=BASE_SHA, **kw
        ).id

    return make
