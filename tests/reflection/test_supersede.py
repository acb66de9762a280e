"""Supersede across nights: a changed fact replaces the old value, which stays readable as history."""

from __future__ import annotations

from memory import bank as membank
from memory.cycles import create_cycle, transition
from memory.decisions import list_decisions
from memory.training import eval_probes, training_set
from reflection.config import ReflectionConfig
from reflection.pipeline import run_reflection

CFG = ReflectionConfig(budget_fraction=1.0)


def night(db, bundle, embedder, config=CFG):
    """One sleep cycle's reflection over everything since the last cycle; returns (cycle id, result)."""
    with db.write() as s:
        cycle = create_cycle(s, "test")
        transition(s, cycle.id, "reflecting")
        since = cycle.watermark_from
    res = run_reflection(
        db,
        bundle,
        None,
        since_watermark=since,
        config=config,
        dry_run=False,
        cycle_id=cycle.id,
        embedder=embedder,
    )
    with db.write() as s:
        transition(s, cycle.id, "skipped", watermark_to=res.watermark_to)
    return cycle.id, res


def test_moving_city_supersedes_and_keeps_history(db, day, tiny_bundle, embedder):
    day(db, "c1", [{"id": "d1", "role": "user", "content": "I live in Oslo."}])
    c1, _ = night(db, tiny_bundle, embedder)
    day(db, "c1", [{"id": "d2", "role": "user", "content": "I bought a red bike for the summer."}])
    night(db, tiny_bundle, embedder)
    day(db, "c1", [{"id": "d3", "role": "user", "content": "Big news: we moved to Lisbon!"}])
    c3, res3 = night(db, tiny_bundle, embedder)

    with db.read() as s:
        current = membank.active_in_slot(s, "user", "city")
        assert [m.value for m in current] == ["Lisbon"]
        lisbon = current[0]
        assert lisbon.created_cycle_id == c3 and lisbon.source_message_ids == ["d3"]
        chain = membank.history(s, lisbon.id)
        assert [(m.value, m.status) for m in chain] == [("Oslo", "superseded"), ("Lisbon", "active")]
        oslo = chain[0]
        assert oslo.superseded_by == lisbon.id and oslo.created_cycle_id == c1

        # Every probe that is scored or trained asks for Lisbon, never Oslo.
        city_probes = [p for p, m in eval_probes(s, split=None) if m.relation == "city"]
        assert city_probes and all(p.answer == "Lisbon" for p in city_probes)
        assert any(p.kind == "qa" and p.split == "eval" for p in city_probes)
        assert any(p.kind == "cloze" and p.prompt.endswith("we moved to") for p in city_probes)
        for rebuild in (False, True):
            inputs = training_set(s, c3, rebuild=rebuild, split=None)
            assert not any("Oslo" in t for t in inputs.all_texts())
            assert any("Lisbon" in t for t in inputs.all_texts())

        reasons = [r for d in list_decisions(s, c3) for r in d.reasons]
        assert any(r.startswith("changes city: Oslo") and r.endswith("-> Lisbon") for r in reasons)
    assert res3.items[0].supersedes == [oslo.id]


def test_restating_a_known_fact_adds_provenance_not_a_second_item(db, day, tiny_bundle, embedder):
    day(db, "c1", [{"id": "a1", "role": "user", "content": "I live in Oslo."}])
    night(db, tiny_bundle, embedder)
    day(db, "c1", [{"id": "a2", "role": "user", "content": "I live in Oslo."}])
    _, res = night(db, tiny_bundle, embedder)
    assert res.items == []
    with db.read() as s:
        (mem,) = membank.list_memories(s, status=None)
        assert mem.status == "active" and mem.source_message_ids == ["a1", "a2"]
    (row,) = res.as_dry_run_json()["dropped"]
    assert "merged" in row["reasons"][-1]


def test_superseding_one_fact_keeps_the_others(db, day, tiny_bundle, embedder):
    day(db, "c1", [{"id": "b1", "role": "user", "content": "I live in Oslo. My sister is called Ana."}])
    night(db, tiny_bundle, embedder)
    day(db, "c1", [{"id": "b2", "role": "user", "content": "We moved to Lisbon last week."}])
    c2, res = night(db, tiny_bundle, embedder)
    with db.read() as s:
        active = {m.relation: m for m in membank.list_memories(s)}
        assert active["city"].value == "Lisbon"
        assert active["sister"].text == "My sister is called Ana." and active[
            "sister"
        ].source_message_ids == ["b1"]
        items = training_set(s, c2, rebuild=False, split=None).items
        assert {it.relation for it in items} == {"city", "sister"}
    assert any("carried sister = Ana" in n for n in res.notes)


def _statuses(db) -> dict[str, str]:
    with db.read() as s:
        return {m.text: m.status for m in membank.list_memories(s, status=None)}


def test_a_fact_only_the_everyday_rules_catch_is_superseded_too(db, day, tiny_bundle, embedder):
    # Measured in bench/memory.py: the old neighbour stayed active beside the new one, and the gates asked
    # for both names with the same question.
    day(db, "c1", [{"id": "n1", "role": "user", "content": "My neighbour, Ottilie, says hi."}])
    night(db, tiny_bundle, embedder)
    day(db, "c1", [{"id": "n2", "role": "user", "content": "Next door is Nadia now, since Ottilie left."}])
    night(db, tiny_bundle, embedder)
    statuses = _statuses(db)
    assert statuses["My neighbour, Ottilie, says hi."] == "superseded"
    assert statuses["Next door is Nadia now, since Ottilie left."] == "active"


def test_the_assistants_echo_of_an_old_value_is_superseded_with_it(db, day, tiny_bundle, embedder):
    # Measured in bench/memory.py: a kept assistant reply "Your gym day is Thursday." stayed active (and was
    # replayed as true) after the user changed the day.
    day(db, "c1", [{"id": "g1", "role": "user", "content": "My gym day is Thursday."}])
    night(db, tiny_bundle, embedder)
    with db.write() as s:
        membank.add_memory(s, "Your gym day is Thursday.", source_message_ids=["g2"])
    day(db, "c1", [{"id": "g3", "role": "user", "content": "My gym day is Friday now."}])
    night(db, tiny_bundle, embedder)
    statuses = _statuses(db)
    assert statuses["Your gym day is Thursday."] == "superseded"
    assert statuses["My gym day is Thursday."] == "superseded"
    assert statuses["My gym day is Friday now."] == "active"
