"""Candidate segments and budget fitting."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reflection.budget import BudgetConfig, Candidate, budget_tokens, fit_budget, select
from reflection.salience import Score
from reflection.segments import Segment, SegmentConfig, build_segments, whitespace_tokens


def _msgs(*turns):
    return [{"id": f"m{i}", "role": role, "content": text} for i, (role, text) in enumerate(turns)]


# --------------------------------------------------------------------------------------------- segments


def test_one_segment_per_message():
    msgs = _msgs(("user", "I moved to Lisbon"), ("assistant", "Nice, how is it?"), ("user", "Sunny"))
    segs = build_segments(msgs, whitespace_tokens, conversation_id="c1")
    assert [s.source_message_ids for s in segs] == [["m0"], ["m1"], ["m2"]]
    assert [s.roles for s in segs] == [["user"], ["assistant"], ["user"]]
    assert [s.token_count for s in segs] == [4, 4, 1]
    assert [s.position for s in segs] == [0, 1, 2]
    assert all(s.conversation_id == "c1" for s in segs)
    assert segs[0].text == "I moved to Lisbon" and segs[0].role == "user"


def test_token_counter_is_the_one_passed_in():
    segs = build_segments(_msgs(("user", "abc de")), count_tokens=len)
    assert segs[0].token_count == 6


def test_system_and_empty_messages_are_skipped_by_default():
    msgs = _msgs(("system", "You are a helpful assistant."), ("user", "  "), ("user", "hi there"))
    assert [s.source_message_ids for s in build_segments(msgs)] == [["m2"]]
    with_system = build_segments(msgs, config=SegmentConfig(include_system=True))
    assert [s.source_message_ids for s in with_system] == [["m0"], ["m2"]]
    assert [s.position for s in with_system] == [0, 2]


def test_short_replies_are_paired_with_the_user_turn():
    msgs = _msgs(
        ("user", "I moved to Lisbon"),
        ("assistant", "Got it."),
        ("user", "Tell me about Lisbon"),
        ("assistant", " ".join(["word"] * 60)),
        ("assistant", "Anything else?"),
    )
    segs = build_segments(msgs, config=SegmentConfig(pair_short_replies=True, short_reply_tokens=10))
    assert [s.source_message_ids for s in segs] == [["m0", "m1"], ["m2"], ["m3"], ["m4"]]
    pair = segs[0]
    assert pair.text == "User: I moved to Lisbon\nAssistant: Got it."
    assert pair.token_count == whitespace_tokens(pair.text)
    assert pair.roles == ["user", "assistant"] and pair.role == "user+assistant"
    assert pair.contents == ("I moved to Lisbon", "Got it.")
    # Segments never overlap: every message is in exactly one.
    ids = [i for s in segs for i in s.source_message_ids]
    assert sorted(ids) == sorted(set(ids)) == [f"m{i}" for i in range(5)]


def test_pair_labels_use_names():
    msgs = [
        {"id": "a", "role": "user", "name": "Ana", "content": "hi"},
        {"id": "b", "role": "assistant", "content": "hello"},
    ]
    (seg,) = build_segments(msgs, config=SegmentConfig(pair_short_replies=True))
    assert seg.text == "Ana: hi\nAssistant: hello" and seg.names == ("Ana", None)


def test_messages_can_be_objects_and_carry_their_conversation():
    rows = [
        SimpleNamespace(
            id=1, role="user", content="I live in Oslo", conversation_id="c9", name=None, created_at=None
        )
    ]
    (seg,) = build_segments(rows, conversation_id="ignored")
    assert seg.source_message_ids == ["1"] and seg.conversation_id == "c9"


def test_created_at_is_kept():
    msgs = [{"id": "a", "role": "user", "content": "x", "created_at": "2024-05-01T10:00:00"}]
    assert build_segments(msgs)[0].created_at == "2024-05-01T10:00:00"


def test_bad_messages_are_rejected_clearly():
    with pytest.raises(ValueError, match="no id"):
        build_segments([{"role": "user", "content": "x"}])
    with pytest.raises(ValueError, match="not text"):
        build_segments([{"id": "a", "role": "user", "content": ["x"]}])


# --------------------------------------------------------------------------------------------- budget


def _cand(i: int, tokens: int, value: float) -> Candidate:
    seg = Segment([f"m{i}"], "c", "x " * tokens, ["user"], tokens, i)
    return Candidate(seg, Score(value, [], {}))


def test_budget_tokens():
    assert budget_tokens(1000, BudgetConfig(fraction=0.3)) == 300
    assert budget_tokens(1000, BudgetConfig(fraction=None, max_tokens=120)) == 120
    assert budget_tokens(1000, BudgetConfig(fraction=0.3, max_tokens=120)) == 120
    assert budget_tokens(100, BudgetConfig(fraction=0.3, max_tokens=120)) == 30
    # the floor: a quiet day still fits a sentence, never more than the day, and the cap still wins
    assert budget_tokens(12, BudgetConfig(fraction=0.3, min_tokens=32)) == 12
    assert budget_tokens(60, BudgetConfig(fraction=0.3, min_tokens=32)) == 32
    assert budget_tokens(1000, BudgetConfig(fraction=0.3, min_tokens=32)) == 300
    assert budget_tokens(60, BudgetConfig(fraction=0.3, max_tokens=20, min_tokens=32)) == 20
    for bad in (BudgetConfig(fraction=None), BudgetConfig(fraction=1.5), BudgetConfig(max_tokens=-1)):
        with pytest.raises(ValueError):
            budget_tokens(100, bad)


def test_strategies_pick_differently():
    cands = [_cand(0, 100, 0.9), _cand(1, 10, 0.5), _cand(2, 10, 0.5), _cand(3, 10, 0.4)]
    by_score = fit_budget(cands, 100, "score")
    assert [c.segment.position for c in by_score.kept] == [0]
    by_density = fit_budget(cands, 100, "density")
    assert [c.segment.position for c in by_density.kept] == [1, 2, 3]
    with pytest.raises(ValueError):
        fit_budget(cands, 100, "random")  # type: ignore[arg-type]


def test_skips_what_does_not_fit_and_keeps_going():
    cands = [_cand(0, 60, 0.9), _cand(1, 50, 0.8), _cand(2, 30, 0.7)]
    sel = fit_budget(cands, 100, "score")
    assert [c.segment.position for c in sel.kept] == [0, 2]
    assert sel.kept_tokens == 90 and sel.budget_tokens == 100 and sel.total_tokens == 140
    reasons = {d.candidate.segment.position: d.reason for d in sel.decisions}
    assert reasons[1].startswith("over budget") and reasons[0].startswith("kept")
    assert [d.rank for d in sel.decisions] == [0, 1, 2]


def test_ties_break_by_shorter_then_earlier():
    cands = [_cand(0, 20, 0.5), _cand(1, 10, 0.5), _cand(2, 10, 0.5)]
    sel = fit_budget(cands, 20, "score")
    assert [c.segment.position for c in sel.kept] == [1, 2]
    assert fit_budget(list(reversed(cands)), 20, "score").kept_tokens == 20


def test_min_score_floor():
    cands = [_cand(0, 5, 0.0), _cand(1, 5, 0.2)]
    sel = fit_budget(cands, 100, "score", min_score=0.1)
    assert [c.segment.position for c in sel.kept] == [1]
    assert "floor" in sel.decisions[0].reason


def test_select_uses_the_config():
    cands = [_cand(i, 10, 0.1 * i) for i in range(10)]
    sel = select(cands, BudgetConfig(fraction=0.3, strategy="score"))
    assert sel.budget_tokens == 30 and [c.segment.position for c in sel.kept] == [7, 8, 9]
    assert dataclasses.is_dataclass(sel) and len(sel.dropped) == 7


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 50), st.floats(0, 1, allow_nan=False)), max_size=40),
    st.integers(0, 400),
    st.sampled_from(["score", "density"]),
)
def test_never_exceeds_and_is_maximal(items, budget, strategy):
    cands = [_cand(i, t, v) for i, (t, v) in enumerate(items)]
    sel = fit_budget(cands, budget, strategy)
    assert sel.kept_tokens == sum(c.segment.token_count for c in sel.kept) <= budget
    # First-fit leaves nothing behind that would still fit.
    for d in sel.decisions:
        if not d.kept and d.candidate.score.value > 0.0:
            assert d.candidate.segment.token_count > budget - sel.kept_tokens
    # Deterministic, and independent of input order.
    again = fit_budget(list(reversed(cands)), budget, strategy)
    assert sorted(c.segment.position for c in again.kept) == sorted(c.segment.position for c in sel.kept)


def test_dry_run_shape():
    cands = [_cand(0, 60, 0.9), _cand(1, 50, 0.8), _cand(2, 30, 0.7)]
    out = fit_budget(cands, 100, "score").as_dry_run()
    assert set(out) == {"total_tokens", "kept_tokens", "kept", "dropped"}
    assert out["total_tokens"] == 140 and out["kept_tokens"] == 90
    assert [r["source_message_ids"] for r in out["kept"]] == [["m0"], ["m2"]]
    assert set(out["kept"][0]) == {"source_message_ids", "text", "score", "reasons"}
    assert set(out["dropped"][0]) == {"source_message_ids", "score", "reasons"}
    assert out["dropped"][0]["reasons"][-1].startswith("over budget")
