"""The shipped default model: within the size limit, loads through the same loader as any checkpoint, is
what `sleepd init` picks without --model, and its card states the figures its evaluation measured."""

from __future__ import annotations

import json
from pathlib import Path

from daemon.init import inspect_base_model
from model.bundle import load_bundle
from model.default_model import DEFAULT_DIR, default_model_path


def test_the_default_model_ships_within_30_mb_and_loads():
    path = default_model_path()
    assert path.stat().st_size <= 30 * 1024 * 1024
    bundle = load_bundle(path)
    training = json.loads((DEFAULT_DIR / "training.json").read_text())
    assert bundle.config.to_dict()["n_layer"] == training["config"]["n_layer"]
    assert 5_000_000 <= training["parameters"] <= 15_000_000
    base = inspect_base_model(None)  # what `sleepd init` uses without --model
    assert base is not None and Path(base.path) == path


def test_the_card_states_the_measured_figures():
    ev = json.loads((DEFAULT_DIR / "evaluation.json").read_text())
    card = (DEFAULT_DIR / "MODEL_CARD.md").read_text()
    assert f"{ev['in_context']['accuracy']:.3f}" in card
    assert f"{ev['no_context']['accuracy']:.3f}" in card
    assert f"{ev['heldout_bits_per_byte']:.3f}" in card
