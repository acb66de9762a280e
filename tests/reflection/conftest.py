"""Fixtures for the reflection tests: MiniLM and a tiny real model loaded once per session, temp databases."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from memory import log as memlog
from memory.db import Database


@pytest.fixture(scope="session")
def embedder():
    """The process-wide MiniLM embedder (loading it takes seconds: once per session)."""
    from reflection.embeddings import shared_embedder

    emb = shared_embedder()
    emb.encode(["warm up"])
    return emb


@pytest.fixture(scope="session")
def tiny_bundle(tiny_checkpoint):
    """A random tiny RWKV-7 (byte vocabulary): real forward passes, no knowledge."""
    from model.bundle import load_bundle

    return load_bundle(tiny_checkpoint)


def add_day(db: Database, conversation_id: str, messages: list[dict]) -> int:
    """Append messages (import format) to a conversation; returns the newest message pk."""
    with db.write() as s:
        memlog.add_interaction(s, {"conversation_id": conversation_id, "messages": messages}, source="import")
        return memlog.last_message_pk(s)


@pytest.fixture
def day():
    return add_day


def load_sibling(name: str):
    """Load tests/reflection/<name>.py (tests run with --import-mode=importlib, not as a package)."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"reflection_tests_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def secrets_corpus():
    return load_sibling("secrets_corpus")
