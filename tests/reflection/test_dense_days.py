"""Dense days: every fact the user states is kept (or deferred to the next night, never dropped), and the
assistant's stock replies and the user's bare questions are never kept."""

from __future__ import annotations

import dataclasses

from memory import bank as membank
from memory.cycles import create_cycle, transition
from reflection.config import ReflectionConfig
from reflection.pipeline import run_reflection

SIX = [
    "My sister is called Ottilie.",
    "My dog's name is Biscuit.",
    "My brother is called Radomir.",
    "My mother's name is Sunniva.",
    "My boss is called Thaddeus.",
    "I live in Ljubljana.",
]
TWELVE = [
    *SIX,
    "My best friend is called Oksana.",
    "My cat's name is Pimento.",
    "My father is called Evander.",
    "My grandmother's name is Leocadia.",
    "I work at Halvorsen Logistics.",
    "My cousin is called Ximena.",
]


def fact_days(db, day, facts, prefix="c", reply="Got it."):
    for k, fact in enumerate(facts):
        day(db, f"{prefix}{k}", [{"role": "user", "content": fact}, {"role": "assistant", "content": reply}])


def kept_texts(result):
    return [row["text"] for row in result.as_dry_run_json()["kept"]]


def test_every_fact_of_the_six_fact_day_is_kept_and_no_acknowledgement(db, day, tiny_bundle, embedder):
    fact_days(db, day, SIX)
    res = run_reflection(db, tiny_bundle, None, since_watermark=0, embedder=embedder)
    kept = kept_texts(res)
    assert sorted(kept) == sorted(SIX)
    dropped = res.as_dry_run_json()["dropped"]
    assert dropped and all("never kept" in row["reasons"] for row in dropped)  # the "Got it." replies


def test_twelve_facts_fit_one_night(db, day, tiny_bundle, embedder):
    fact_days(db, day, TWELVE)
    res = run_reflection(db, tiny_bundle, None, since_watermark=0, embedder=embedder)
    assert sorted(kept_texts(res)) == sorted(TWELVE)


def test_stock_replies_and_bare_questions_are_never_kept_and_the_fact_is(db, day, tiny_bundle, embedder):
    day(
        db,
        "a",
        [
            {"role": "user", "content": "Remember this: my sister is called Ana and she lives in Porto."},
            {"role": "assistant", "content": "Thanks for telling me, I'll keep that in mind."},
        ],
    )
    day(
        db,
        "b",
        [
            {"role": "user", "content": "What is my mother's name?"},
            {"role": "assistant", "content": "I don't know."},
            {"role": "user", "content": "My dog's name is Biscuit."},
            {"role": "assistant", "content": "Got it."},
        ],
    )
    # A budget far too small for both facts: they go first anyway, and nothing else gets in.
    cfg = ReflectionConfig().with_budget(fraction=0.05)
    res = run_reflection(db, tiny_bundle, None, since_watermark=0, config=cfg, embedder=embedder)
    assert sorted(kept_texts(res)) == sorted(
        ["Remember this: my sister is called Ana and she lives in Porto.", "My dog's name is Biscuit."]
    )
    item = next(it for it in res.items if "Porto" in it.text)
    answers = {p.answer for p in item.probes if p.kind == "qa"}
    assert answers == {"Ana", "Porto"}  # self-study for the sister's city too, not only her name


def test_facts_over_capacity_wait_and_go_first_the_next_night(db, day, tiny_bundle, embedder):
    cfg = dataclasses.replace(ReflectionConfig(), capacity_facts=4)
    fact_days(db, day, SIX)
    with db.write() as s:
        c1 = create_cycle(s, "test").id
    first = run_reflection(db, tiny_bundle, None, since_watermark=0, config=cfg, dry_run=False, cycle_id=c1)
    assert sorted(kept_texts(first)) == sorted(SIX[:4])  # in message order
    with db.read() as s:
        deferred = membank.list_memories(s, status="deferred")
        assert [m.text for m in deferred] == SIX[4:]
        assert all("capacity" in m.deferred_reason and m.deferred_cycle_id == c1 for m in deferred)
        assert not membank.list_probes(s, memory_ids=[m.id for m in deferred])  # probes when taken up

    mark = first.watermark_to
    with db.write() as s:
        transition(s, c1, "reflecting")
        transition(s, c1, "rejected")
    tonight = ["My cat's name is Pimento.", "My father is called Evander.", "My cousin is called Ximena."]
    fact_days(db, day, tonight, prefix="d")
    with db.write() as s:
        c2 = create_cycle(s, "test").id
    second = run_reflection(
        db, tiny_bundle, None, since_watermark=mark, config=cfg, dry_run=False, cycle_id=c2, embedder=embedder
    )
    # The two deferred facts first, then tonight's first; tonight's second waits in turn.
    assert sorted(kept_texts(second)) == sorted([*SIX[4:], *tonight[:2]])
    with db.read() as s:
        active = {m.text: m for m in membank.list_memories(s, status="active")}
        assert active[SIX[4]].created_cycle_id == c2 and active[SIX[4]].id == deferred[0].id
        assert membank.list_probes(s, memory_ids=[active[SIX[4]].id])
        assert [m.text for m in membank.list_memories(s, status="deferred")] == tonight[2:]


def test_a_deferred_fact_a_later_message_changes_is_never_taken_up(db, day, tiny_bundle, embedder):
    cfg = dataclasses.replace(ReflectionConfig(), capacity_facts=1)
    fact_days(db, day, ["My sister is called Ottilie.", "I live in Oslo.", "We moved to Lisbon!"])
    res = run_reflection(db, tiny_bundle, None, since_watermark=0, config=cfg, embedder=embedder)
    verdicts = {d.part.text: d.verdict for d in res.outcome.decisions if d.part.text.startswith(("I", "We"))}
    assert verdicts["I live in Oslo."].startswith("obsolete")
    assert verdicts["We moved to Lisbon!"].startswith("deferred")
