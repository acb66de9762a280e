"""Fixtures every test package shares. Plain helpers (tiny configs, the CLI runner) are in tests/support.py,
importable as `support`."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """One tiny random RWKV-7 safetensors checkpoint (byte vocabulary) for the whole session: real forward
    passes, no knowledge (making one takes seconds on a busy machine)."""
    from model.bundle import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny-model"), seed=0)
