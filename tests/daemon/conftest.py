"""Daemon tests exercise the service machinery (HTTP, scheduler, locks, child processes). Cycles they
trigger run the `skip_pipeline`, which records a skipped cycle at once; the real reflect → tune → gate
pipeline has its own end-to-end test (test_night.py), which removes the variable for itself."""

from __future__ import annotations

import os

import pytest

from daemon.cycle import PIPELINE_ENV


@pytest.fixture(autouse=True, scope="session")
def skip_pipeline_for_cycles():
    # Session scope: module-scoped server fixtures start before any function-scoped monkeypatch.
    old = os.environ.get(PIPELINE_ENV)
    os.environ[PIPELINE_ENV] = "daemon.cycle:skip_pipeline"
    yield
    if old is None:
        os.environ.pop(PIPELINE_ENV, None)
    else:
        os.environ[PIPELINE_ENV] = old


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory):
    """One tiny random RWKV-7 checkpoint for the session (making one takes seconds on a busy machine)."""
    from model.bundle import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny-models"), seed=0)
