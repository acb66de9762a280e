"""Memory bank (items, supersede, forget, probes), cycle state machine, decisions, events."""

from __future__ import annotations

import pytest

from memory import bank, cycles, decisions
from memory.errors import Conflict, InputError, NotFound
from memory.events import list_events


def test_supersede_keeps_history(db):
    with db.write() as s:
        old = bank.add_memory(s, "Ana lives in Paris.", subject="Ana", relation="lives_in", value="Paris")
        assert [m.id for m in bank.active_in_slot(s, "Ana", "lives_in")] == [old.id]
        new = bank.add_memory(
            s,
            "Ana lives in Berlin.",
            subject="Ana",
            relation="lives_in",
            value="Berlin",
            supersedes=[old.id],
            source_message_ids=["m7"],
        )
        newer = bank.add_memory(
            s, "Ana lives in Rome.", subject="Ana", relation="lives_in", supersedes=[new.id]
        )
    with db.read() as s:
        assert [m.id for m in bank.active_in_slot(s, "Ana", "lives_in")] == [newer.id]
        assert bank.get_memory(s, old.id).status == "superseded"
        assert bank.get_memory(s, old.id).superseded_by == new.id
        assert [m.id for m in bank.history(s, new.id)] == [old.id, new.id, newer.id]
        assert [m.id for m in bank.history(s, old.id)] == [old.id, new.id, newer.id]
        assert bank.get_memory(s, new.id).source_message_ids == ["m7"]
    with pytest.raises(InputError, match="not active"), db.write() as s:
        bank.supersede(s, old.id, newer.id)


def test_forget_marks_memory_and_probes_and_records_an_event(db):
    with db.write() as s:
        m = bank.add_memory(s, "The cat is called Mitten.")
        p = bank.add_probe(s, m.id, "cloze", "The cat is called", "Mitten")
        bank.add_probe(s, m.id, "qa", "What is the cat called?", "Mitten", split="train")
    with db.write() as s:
        bank.forget(s, m.id, actor="test", reason="privacy")
    with db.read() as s:
        mem = bank.get_memory(s, m.id)
        assert mem.status == "forgotten" and mem.forgotten_at is not None and mem.forget_reason == "privacy"
        assert bank.list_probes(s, memory_ids=[m.id]) == []
        assert {x.status for x in bank.list_probes(s, memory_ids=[m.id], status=None)} == {"forgotten"}
        ev = list_events(s, action="memory.forget")
        assert ev[0].details["memory_id"] == m.id and ev[0].reason == "privacy"
        assert bank.list_memories(s) == []
        assert bank.list_memories(s, status=None)[0].id == m.id
        assert p.id
    with pytest.raises(InputError, match="already forgotten"), db.write() as s:
        bank.forget(s, m.id, actor="test")


def test_probes_and_search(db):
    with db.write() as s:
        a = bank.add_memory(s, "Favourite colour: 100% green_ish")
        bank.add_memory(s, "Works at ACME", subject="Bo", relation="works_at", value="ACME")
        bank.add_probe(s, a.id, "qa", "Favourite colour?", "green", split="eval")
        bank.add_probe(s, a.id, "cloze", "Favourite colour:", "green", split="train")
    with db.read() as s:
        assert [m.id for m in bank.search_memories(s, "GREEN")] == [a.id]
        assert [m.id for m in bank.search_memories(s, "100%")] == [a.id]  # % is literal
        assert bank.search_memories(s, "n_i") and not bank.search_memories(s, "n%i")
        assert [m.value for m in bank.search_memories(s, "acme")] == ["ACME"]
        assert [p.kind for p in bank.list_probes(s, split="eval")] == ["qa"]
        assert len(bank.list_probes(s, kind="cloze")) == 1
    for args, msg in (((a.id, "mcq", "p", "a"), "probe kind"), ((999, "qa", "p", "a"), "no memory 999")):
        with pytest.raises(InputError, match=msg), db.write() as s:
            bank.add_probe(s, *args)
    with pytest.raises(InputError), db.write() as s:
        bank.add_memory(s, "  ")


def test_cycle_state_machine(db):
    with db.write() as s:
        c = cycles.create_cycle(s, "manual")
        assert c.status == "pending" and c.watermark_from == 0
        with pytest.raises(Conflict, match=f"cycle {c.id} is still pending"):
            cycles.create_cycle(s, "schedule")
        cycles.transition(s, c.id, "reflecting", watermark_to=10)
        with pytest.raises(InputError, match="cannot go from reflecting to promoted"):
            cycles.transition(s, c.id, "promoted")
        cycles.transition(s, c.id, "reflecting")  # resume after a crash: same state is allowed
        cycles.transition(s, c.id, "tuning")
        cycles.transition(s, c.id, "evaluating")
        done = cycles.transition(s, c.id, "promoted", result={"kept": 3}, report_path="cycles/1/report.md")
        assert done.finished_at is not None and done.started_at is not None and done.result == {"kept": 3}
        with pytest.raises(InputError, match="cannot go from promoted to promoted"):
            cycles.transition(s, c.id, "promoted")  # a promotion happens at most once
        c2 = cycles.create_cycle(s, "schedule")
        assert c2.watermark_from == 10  # continues where the promoted cycle stopped
        cycles.transition(s, c2.id, "reflecting", watermark_to=20)
        cycles.transition(s, c2.id, "failed", error="boom")
        c3 = cycles.create_cycle(s, "schedule")
        assert c3.watermark_from == 10  # a failed cycle does not consume its messages
        cycles.transition(s, c3.id, "skipped", watermark_to=20)
        assert cycles.next_watermark_from(s) == 20
        assert cycles.active_cycle(s) is None
        assert [x.id for x in cycles.list_cycles(s)] == [c3.id, c2.id, c.id]
        with pytest.raises(NotFound):
            cycles.get_cycle(s, 999)
        with pytest.raises(TypeError):
            cycles.transition(s, c3.id, "failed", colour="red")


def test_decisions(db):
    with db.write() as s:
        c = cycles.create_cycle(s, "manual")
        decisions.record_decision(
            s,
            cycle_id=c.id,
            source_message_ids=["m1", "m2"],
            kept=True,
            score=0.8,
            reasons=["fact"],
            components={"novelty": 0.5},
            text="Ana likes tea.",
            tokens=5,
        )
        decisions.record_decision(
            s, cycle_id=c.id, source_message_ids=["m3"], kept=False, score=0.1, reasons=["chit-chat"]
        )
    with db.read() as s:
        kept = decisions.list_decisions(s, c.id, kept=True)
        assert [d.text for d in kept] == ["Ana likes tea."] and kept[0].components == {"novelty": 0.5}
        assert [d.reasons for d in decisions.list_decisions(s, c.id)] == [["fact"], ["chit-chat"]]
