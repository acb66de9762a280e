"""The gates' edges: an empty suite passes with null (acquisition excepted, by design), and nothing that
is not a finite number reaches eval.json."""

from __future__ import annotations

import json

import pytest
import torch

from eval.gates import GateConfig, GateSuites, evaluate_gates, sanity
from model.bundle import load_bundle


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    return load_bundle(tiny_checkpoint)


def test_a_non_finite_state_fails_sanity_with_a_json_null(tiny):
    state = tiny.model.zero_state(1)
    state.wkv[0].fill_(float("nan"))
    g = sanity(tiny.model, tiny.tokenizer, state, GateConfig())
    assert not g.passed and g.details["finite"] is False
    out = g.to_json()
    assert out["value"] is None
    json.dumps(out, allow_nan=False)  # strict JSON: no Infinity, no NaN


def test_empty_suites_pass_with_null_except_acquisition(tiny):
    zero = tiny.model.zero_state(1)
    suites = GateSuites(
        general_text="The river ran past the mill. " * 20,
        tonight=[],
        earlier=[],
        never_taught=[],
        override=[],
    )
    report = evaluate_gates(
        tiny.model, tiny.tokenizer, candidate=zero, current=zero, base=zero, suites=suites
    )
    gates = report.to_json()
    for name in ("retention", "abstention", "leak", "context_override"):
        assert gates[name]["passed"] and gates[name]["value"] is None, name
    assert not gates["acquisition"]["passed"] and "nothing to acquire" in gates["acquisition"]["note"]
    json.dumps({"gates": gates, "measurements": report.measurements_json()}, allow_nan=False)


def test_measurements_lose_their_non_finite_numbers(tiny):
    zero = tiny.model.zero_state(1)
    suites = GateSuites(
        general_text="Hello there. " * 30, tonight=[], earlier=[], never_taught=[], override=[]
    )
    report = evaluate_gates(
        tiny.model, tiny.tokenizer, candidate=zero, current=zero, base=zero, suites=suites
    )
    report.measurements["odd"] = [float("inf"), {"x": float("nan")}]
    assert report.measurements_json()["odd"] == [None, {"x": None}]
    assert torch.isfinite(torch.tensor(report.measurements["general_bpb"]))
