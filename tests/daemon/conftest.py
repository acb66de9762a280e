"""Daemon tests exercise the service machinery (HTTP, scheduler, locks, child processes). Cycles they
trigger run the `skip_pipeline` of tests/daemon/pipelines.py, which records a skipped cycle at once; the
real night has its own end-to-end tests (test_night.py, ...), which remove the variable for themselves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daemon.cycle import PIPELINE_ENV


@pytest.fixture(autouse=True, scope="session")
def skip_pipeline_for_cycles():
    # Session scope: module-scoped server fixtures start before any function-scoped monkeypatch.
    old = os.environ.get(PIPELINE_ENV)
    os.environ[PIPELINE_ENV] = f"{Path(__file__).with_name('pipelines.py')}:skip_pipeline"
    yield
    if old is None:
        os.environ.pop(PIPELINE_ENV, None)
    else:
        os.environ[PIPELINE_ENV] = old
