"""Forget: the item and its probes leave every training input, and the next cycle must rebuild from base."""

from __future__ import annotations

import pytest

from memory import bank as membank
from memory.cycles import create_cycle, transition
from memory.errors import InputError
from memory.events import list_events
from memory.forget import forget_memory, rebuild_pending
from memory.training import eval_probes, replay_sample, training_items, training_set
from reflection.config import ReflectionConfig
from reflection.pipeline import run_reflection

CFG = ReflectionConfig(budget_fraction=1.0)


def _night(db, bundle, embedder, *, rebuild=False, status="promoted"):
    with db.write() as s:
        cycle = create_cycle(s, "test", rebuild=rebuild)
        transition(s, cycle.id, "reflecting")
    res = run_reflection(
        db, bundle, None, since_watermark=cycle.watermark_from, config=CFG, dry_run=False, cycle_id=cycle.id,
        embedder=embedder,
    )  # fmt: skip
    with db.write() as s:
        if status == "promoted":
            for step in ("tuning", "evaluating"):
                transition(s, cycle.id, step)
        transition(s, cycle.id, status, watermark_to=res.watermark_to)
    return cycle.id, res


def _setup(db, day, bundle, embedder):
    day(db, "c", [
        {"id": "f1", "role": "user", "content": "My daughter Mia is allergic to peanuts."},
        {"id": "f2", "role": "user", "content": "I work at Harbour Logistics as a data analyst."},
    ])  # fmt: skip
    c1, _ = _night(db, bundle, embedder)
    day(db, "c", [{"id": "f3", "role": "user", "content": "My dog Rex turns 3 on 4 May."}])
    c2, _ = _night(db, bundle, embedder)
    with db.read() as s:
        mems = {m.source_message_ids[0]: m.id for m in membank.list_memories(s)}
    return c1, c2, mems


def test_forgotten_item_is_absent_from_every_training_input(db, day, tiny_bundle, embedder):
    _c1, c2, mems = _setup(db, day, tiny_bundle, embedder)
    target = mems["f1"]
    with db.read() as s:
        assert not rebuild_pending(s)
        before = training_set(s, c2, rebuild=False, split=None)
        assert target in {it.memory_id for it in before.replay}  # yesterday's item is replayed ...
    with db.write() as s:
        forget_memory(s, target, actor="test", reason="user asked")
    with db.read() as s:
        assert rebuild_pending(s)
        assert membank.get_memory(s, target).status == "forgotten"
        assert all(p.status == "forgotten" for p in membank.list_probes(s, memory_ids=[target], status=None))
        events = {e.action for e in list_events(s)}
        assert {"memory.forget", "memory.rebuild_scheduled"} <= events

        # ... and after the forget it is nowhere: not in the rebuild set, a warm set, replay, or eval probes.
        default = training_set(s, c2 + 1, split=None)  # rebuild read from the flag
        assert default.rebuild and default.replay == []
        warm = training_set(s, c2, rebuild=False, split=None)
        everything = training_items(s, split=None)
        for inputs in (default, warm):
            ids = {it.memory_id for it in inputs.items + inputs.replay}
            assert target not in ids
            assert not any("peanut" in t for t in inputs.all_texts())
        assert target not in {it.memory_id for it in everything}
        assert target not in {it.memory_id for it in replay_sample(everything, 100, seed=1)}
        assert target not in {m.id for _, m in eval_probes(s, split=None)}
        assert {it.memory_id for it in default.items} == {mems["f2"], mems["f3"]}


def test_rebuild_flag_clears_only_after_a_promoted_rebuild_started_after_the_forget(
    db, day, tiny_bundle, embedder
):
    _c1, _c2, mems = _setup(db, day, tiny_bundle, embedder)
    with db.write() as s:
        forget_memory(s, mems["f2"], actor="test")
    _night(db, tiny_bundle, embedder, rebuild=False)  # a warm cycle does not clear it
    with db.read() as s:
        assert rebuild_pending(s)
    _night(db, tiny_bundle, embedder, rebuild=True, status="rejected")  # nor does a rejected rebuild
    with db.read() as s:
        assert rebuild_pending(s)
    _night(db, tiny_bundle, embedder, rebuild=True)
    with db.read() as s:
        assert not rebuild_pending(s)
    with db.write() as s:  # a new forget schedules a new rebuild
        forget_memory(s, mems["f3"], actor="test")
        assert rebuild_pending(s)


def test_forgetting_twice_or_a_missing_item_is_an_input_error(db, day, tiny_bundle, embedder):
    _c1, _c2, mems = _setup(db, day, tiny_bundle, embedder)
    with db.write() as s:
        forget_memory(s, mems["f1"], actor="test")
    with pytest.raises(InputError), db.write() as s:
        forget_memory(s, mems["f1"], actor="test")
    with pytest.raises(InputError), db.write() as s:
        forget_memory(s, 999, actor="test")


def test_forgotten_text_is_not_reflected_back_in(db, day, tiny_bundle, embedder):
    """A forgotten item is not in the bank that tonight's reflection dedupes against, so mentioning the fact
    again is a new item (the user chose to tell it again), never a revival of the forgotten one."""
    _c1, _c2, mems = _setup(db, day, tiny_bundle, embedder)
    with db.write() as s:
        forget_memory(s, mems["f1"], actor="test")
    day(db, "c", [{"id": "f9", "role": "user", "content": "My daughter Mia is allergic to peanuts."}])
    _night(db, tiny_bundle, embedder, rebuild=True)
    with db.read() as s:
        old = membank.get_memory(s, mems["f1"])
        assert old.status == "forgotten" and old.source_message_ids == ["f1"]
        (new,) = [m for m in membank.list_memories(s) if "peanuts" in m.text]
        assert new.id != old.id and new.source_message_ids == ["f9"]
