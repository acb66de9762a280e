"""Negative questions: the near neighbours a tuned state pours a held value into are asked first."""

from __future__ import annotations

from world.neighbours import negative_questions, parse
from world.templates import HELDOUT, TRAIN


def _relations(held: list[str], near_per_fact: int, split: str = TRAIN, free: int = 0) -> list[str]:
    negs = negative_questions(
        [parse(h) for h in held], split=split, near_per_fact=near_per_fact, free=free, seed="t"
    )
    return [n.address.relation for n in negs]


def test_a_persons_own_job_and_city_come_first():
    # Measured leak: "What does my best friend work as?" -> "Your best friend is called Ricardo."
    for split in (TRAIN, HELDOUT):
        own = sorted(_relations(["best_friend"], 2, split))
        assert own == ["person_city:best friend", "person_job:best friend"]


def test_the_users_job_neighbours_other_peoples_jobs():
    # Measured leak: "What does my landlord work as?" -> "You're an airline pilot."
    rels = _relations(["job_title"], 6)
    assert rels[0] == "employer"  # the paired relation first
    assert any(r.startswith("person_job:") for r in rels)


def test_the_gym_day_neighbours_other_events():
    # Measured leak: "What day did I say my book club is?" -> "Your gym day is Sunday."
    assert any(r.startswith("event_day:") for r in _relations(["gym_day"], 6))


def test_held_relations_are_never_asked_and_nothing_twice():
    held = ["sister", "job_title", "person_job:sister", "city"]
    rels = _relations(held, 6, free=12)
    assert not set(rels) & set(held)
    assert len(rels) == len(set(rels))
    assert len(rels) == 6 * len(held) + 12


def test_deterministic_in_seed():
    a = negative_questions([parse("dog")], split=TRAIN, near_per_fact=3, free=3, seed="x")
    b = negative_questions([parse("dog")], split=TRAIN, near_per_fact=3, free=3, seed="x")
    c = negative_questions([parse("dog")], split=TRAIN, near_per_fact=3, free=3, seed="y")
    assert a == b
    assert [n.question for n in a] != [n.question for n in c]
