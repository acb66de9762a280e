"""Training phrasings as slot patterns: updates give the new value, held-out phrasings are never read."""

from __future__ import annotations

import pytest

from reflection.phrased_slots import _phrasings, phrased_slots
from reflection.slots import extract_slots
from reflection.stated import stated_facts
from world.facts import RELATIONS
from world.pools import POOLS
from world.templates import HELDOUT, TRAIN, render, statement_templates, update_templates


def _rendered(split: str, role: str):
    for rel in RELATIONS:
        if role == "update" and not rel.mutable:
            continue
        pool = POOLS[rel.pool]
        new, old = pool[1], pool[2]
        fn = update_templates if role == "update" else statement_templates
        for t in fn(rel.key, split):
            yield rel.key, new, old, render(t.text, new, noun=rel.nouns[0], old=old)


def _caught(split: str, role: str) -> tuple[int, int, list[str]]:
    hit, n, old_given = 0, 0, []
    for key, new, old, text in _rendered(split, role):
        n += 1
        got = {(f.relation, f.value.lower()) for f in stated_facts(text)}
        hit += (key, new.lower()) in got
        if (key, old.lower()) in got:
            old_given.append(text)
    return hit, n, old_given


@pytest.mark.parametrize("role", ["statement", "update"])
def test_training_phrasings_give_the_value_and_never_the_old_one(role):
    hit, n, old_given = _caught(TRAIN, role)
    assert hit / n >= 0.98, (hit, n)
    assert not old_given


def test_held_out_phrasings_are_not_patterns():
    held = {
        render(t.text, "X", noun="n", old="O")
        for k in ("city", "sister")
        for t in statement_templates(k, HELDOUT)
    }
    patterns = _phrasings()
    assert patterns and len(held) > 0
    train_count = sum(len(statement_templates(r.key, TRAIN)) for r in RELATIONS)
    assert len(patterns) >= train_count  # every training statement phrasing, once per noun at least
    hit, n, _ = _caught(HELDOUT, "statement")
    assert hit < n  # the rules do not know them all: their share is the generalisation figure


@pytest.mark.parametrize(
    ("text", "relation", "value"),
    [
        ("Goodbye Auckland, hello Amsterdam! I just moved.", "city", "Amsterdam"),
        ("My favourite drink is now lager, not cream soda.", "favourite_drink", "lager"),
        ("Long day today. Next door is Nadia now, since Ottilie left.", "neighbour", "Nadia"),
        ("Forget burritos; ramen is my favourite food now.", "favourite_food", "ramen"),
        ("My gym day is Friday now.", "gym_day", "Friday"),  # a time word after a statement's value
        ("My favourite food is pad thai these days.", "favourite_food", "pad thai"),
    ],
)
def test_updates_in_a_message(text, relation, value):
    assert [(s.relation, s.value) for s in extract_slots(text)] == [(relation, value)]


@pytest.mark.parametrize(
    "text",
    ["I'm a bit tired.", "So my favourite drink is lager?", "I'm a big fan of jazz", "Tell me a joke."],
)
def test_vague_or_asked_gives_nothing(text):
    assert phrased_slots(text) == []
