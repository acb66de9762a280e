"""run_reflection end to end: the dry-run contract, writes, determinism, and secrets in every output."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from sqlalchemy import select

from memory import bank as membank
from memory import log as memlog
from memory.cycles import create_cycle
from memory.decisions import list_decisions
from memory.errors import Conflict
from memory.events import list_events
from memory.schema import Decision, Event, Memory, Probe
from memory.training import training_set
from reflection.config import ReflectionConfig
from reflection.pipeline import reflection_done, run_reflection

DAY = [
    {"id": "m1", "role": "user", "content": "Hi there! I live in Oslo and my sister is called Ana."},
    {"id": "m2", "role": "assistant", "content": "Nice to meet you! Is there anything else I can help with?"},
    {"id": "m3", "role": "user", "content": "Remember that my dog Rex turns 3 on 4 May."},
    {"id": "m4", "role": "user", "content": "Thanks!"},
    {"id": "m5", "role": "user", "content": "I started a new job at Harbour Logistics as a data analyst."},
]


def _counts(db):
    with db.read() as s:
        return [len(list(s.scalars(select(t)))) for t in (Decision, Memory, Probe, Event)]


def test_dry_run_json_has_exactly_the_contract_shape_and_writes_nothing(db, day, tiny_bundle, embedder):
    day(db, "c1", DAY)
    res = run_reflection(db, tiny_bundle, None, since_watermark=0, embedder=embedder)
    out = res.as_dry_run_json()
    assert list(out) == ["total_tokens", "kept_tokens", "kept", "dropped"]
    assert out["kept"] and out["dropped"]
    for row in out["kept"]:
        assert list(row) == ["source_message_ids", "text", "score", "reasons"]
    for row in out["dropped"]:
        assert list(row) == ["source_message_ids", "score", "reasons"]
    for row in out["kept"] + out["dropped"]:
        assert row["source_message_ids"] and all(
            i in {m["id"] for m in DAY} for i in row["source_message_ids"]
        )
        assert (
            0.0 <= row["score"] <= 1.0 and row["reasons"] and all(isinstance(r, str) for r in row["reasons"])
        )
    # Stated facts go first (every one here: the night's capacity is larger); the rest shares 30% of the day.
    facts = [r for r in out["kept"] if any(x.startswith("states a fact") for x in r["reasons"])]
    assert facts and not any(any(x.startswith("states a fact") for x in r["reasons"]) for r in out["dropped"])
    fact_tokens = sum(len(tiny_bundle.tokenizer.encode(r["text"])) for r in facts)
    assert out["kept_tokens"] <= max(int(0.3 * out["total_tokens"]), fact_tokens)
    assert out["total_tokens"] == sum(len(tiny_bundle.tokenizer.encode(m["content"])) for m in DAY)
    json.dumps(out)  # serialisable as is
    assert _counts(db) == [0, 0, 0, 0]  # a dry run writes nothing


def test_deterministic_and_budget_options(db, day, tiny_bundle, embedder):
    day(db, "c1", DAY)
    a = run_reflection(db, tiny_bundle, None, since_watermark=0, embedder=embedder).as_dry_run_json()
    b = run_reflection(db, tiny_bundle, None, since_watermark=0, embedder=embedder).as_dry_run_json()
    assert a == b
    small = ReflectionConfig().with_budget(max_tokens=50)
    c = run_reflection(db, tiny_bundle, None, since_watermark=0, config=small, embedder=embedder)
    facts = [d for d in c.outcome.decisions if d.kept and d.kind == "fact"]
    assert c.kept_tokens - sum(d.tokens for d in facts) <= 50  # stated facts go first, the rest fits
    everything = dataclasses.replace(ReflectionConfig(budget_fraction=1.0), min_score=0.0)
    d = run_reflection(db, tiny_bundle, None, since_watermark=0, config=everything, embedder=embedder)
    assert not d.as_dry_run_json()["dropped"] or all(
        "merged" in r["reasons"][-1] or r["reasons"][-1] == "never kept"
        for r in d.as_dry_run_json()["dropped"]
    )


def test_watermark_limits_the_day(db, day, tiny_bundle, embedder):
    first = day(db, "c1", DAY[:2])
    day(db, "c1", DAY[2:])
    res = run_reflection(db, tiny_bundle, None, since_watermark=first, embedder=embedder)
    ids = {
        i
        for row in res.as_dry_run_json()["kept"] + res.as_dry_run_json()["dropped"]
        for i in row["source_message_ids"]
    }
    assert ids <= {"m3", "m4", "m5"} and res.messages == 3 and res.watermark_to == first + 3
    none = run_reflection(db, tiny_bundle, None, since_watermark=res.watermark_to, embedder=embedder)
    assert none.as_dry_run_json() == {"total_tokens": 0, "kept_tokens": 0, "kept": [], "dropped": []}


def test_real_run_stores_decisions_items_probes_and_an_event(db, day, tiny_bundle, embedder):
    day(db, "c1", DAY)
    cfg = ReflectionConfig(budget_fraction=0.6)
    res = run_reflection(
        db, tiny_bundle, None, since_watermark=0, config=cfg, dry_run=False, embedder=embedder
    )
    with db.read() as s:
        decisions = list_decisions(s, None)
        assert len(decisions) == len(res.outcome.decisions)
        for d in decisions:
            assert d.reasons and "salience" in d.components and d.tokens > 0
            assert (d.text is not None) == d.kept
        mems = membank.list_memories(s)
        assert [m.id for m in mems] == [it.memory_id for it in res.items]
        assert all(m.source_message_ids for m in mems)
        assert {m.text for m in mems} == {row["text"] for row in res.as_dry_run_json()["kept"]}
        probes = membank.list_probes(s)
        assert probes and {p.memory_id for p in probes} <= {m.id for m in mems}
        event = list_events(s, action="reflection.run")[0]
        assert event.details["items"] == [m.id for m in mems]
        ts = training_set(s, cycle_id=None)
        assert {it.memory_id for it in ts.items} == {m.id for m in mems}
        assert all(p.split == "train" for it in ts.items for p in it.probes)
    report = res.as_report()
    assert report["items"] and all(it["probes"] for it in report["items"])
    # The random model fails the judge's self-check, so it is not asked to write questions either.
    assert "model questions off: the model failed the judge's self-check" in res.notes
    assert not any(p.source == "model" for it in res.items for p in it.probes)
    manifest = res.manifest_record()
    assert manifest["items"] == [m.id for m in mems] and "text" not in json.dumps(manifest["notes"])


def test_feedback_counts(db, day, tiny_bundle, embedder):
    day(db, "c1", [{"id": "a", "role": "user", "content": "I like trains."}])
    base = run_reflection(db, tiny_bundle, None, since_watermark=0, embedder=embedder)
    with db.write() as s:
        memlog.add_feedback(s, message_id="a", rating=1.0, conversation_id="c1")
    liked = run_reflection(db, tiny_bundle, None, since_watermark=0, embedder=embedder)
    score = lambda r: (r.as_dry_run_json()["kept"] + r.as_dry_run_json()["dropped"])[0]["score"]  # noqa: E731
    assert score(liked) > score(base)


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


def test_planted_secrets_never_reach_any_output(db, day, tiny_bundle, embedder, secrets_corpus):
    """Secrets of every kind and format, in messages worth keeping, kept at a budget of 100%: no value
    survives in the dry-run JSON, the report, the manifest record, the stored decisions, items, probes and
    events, or the training set."""
    cases = secrets_corpus.planted_cases()[::9] + secrets_corpus.mixed_cases()
    messages = [
        {"id": f"s{i}", "role": "user", "content": f"Remember that my sister Ana lives in Porto. {c.text}"}
        for i, c in enumerate(cases)
    ]
    day(db, "secrets", messages)
    # Everything kept, nothing merged away: the most exposure the secrets can get.
    cfg = dataclasses.replace(ReflectionConfig(budget_fraction=1.0), min_score=0.0, duplicate_cosine=1.5)
    res = run_reflection(
        db, tiny_bundle, None, since_watermark=0, config=cfg, dry_run=False, embedder=embedder
    )
    assert sum(res.redactions.values()) >= len(cases)
    blobs = list(_strings(res.as_dry_run_json())) + list(_strings(res.as_report()))
    blobs += list(_strings(res.manifest_record()))
    with db.read() as s:
        for d in s.scalars(select(Decision)):
            blobs += [d.text or "", *d.reasons, *map(str, d.components)]
        for m in s.scalars(select(Memory)):
            blobs += [m.text, m.value or "", m.subject or ""]
        for p in s.scalars(select(Probe)):
            blobs += [p.prompt, p.answer]
        for e in s.scalars(select(Event)):
            blobs += list(_strings(e.details))
        blobs += training_set(s, cycle_id=None, split=None).all_texts()
    assert len(res.items) >= len(cases)  # the test is only meaningful if things were kept
    text = "\n".join(blobs)
    flat = re.sub(r"\s+", "", text)
    for case in cases:
        for value in case.values:
            assert value not in text, case.name
            assert re.sub(r"\s+", "", value) not in flat, case.name


def test_a_cycle_is_reflected_at_most_once(db, day, tiny_bundle, embedder):
    day(db, "c1", DAY)
    with db.write() as s:
        cycle = create_cycle(s, "test")
    run = lambda: run_reflection(  # noqa: E731
        db, tiny_bundle, None, since_watermark=0, dry_run=False, cycle_id=cycle.id, embedder=embedder
    )
    run()
    with db.read() as s:
        assert reflection_done(s, cycle.id)
        (event,) = list_events(s, action="reflection.run")
        assert event.details["config"]["budget_fraction"] == 0.3  # the weights that decided, on record
        n = len(list_decisions(s, cycle.id))
    with pytest.raises(Conflict):
        run()
    with db.read() as s:
        assert len(list_decisions(s, cycle.id)) == n  # nothing stored twice
