"""Fixtures every test package shares. Plain helpers (tiny configs, the CLI runner) are in tests/support.py,
importable as `support`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Cycle children load test pipelines from test files, which import `support`: they see tests/ as pytest does.
_TESTS = str(Path(__file__).resolve().parent)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_TESTS, os.environ.get("PYTHONPATH", "")) if p)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """One tiny random RWKV-7 safetensors checkpoint (byte vocabulary) for the whole session: real forward
    passes, no knowledge (making one takes seconds on a busy machine)."""
    from model.bundle import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny-model"), seed=0)


@pytest.fixture
def db(tmp_path):
    """A migrated SQLite database in the test's folder (the schema of a fresh data directory)."""
    from memory.db import Database, migrate

    path = tmp_path / "sleepd.db"
    migrate(path)
    database = Database(path)
    yield database
    database.dispose()
