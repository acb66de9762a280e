"""Answer scoring, abstention detection and probes."""

from __future__ import annotations

import pytest

from world import (
    ABSTAIN_ANSWER,
    HELDOUT,
    TRAIN,
    cloze_probe,
    cloze_probes,
    is_abstention,
    qa_probe_pairs,
    score_answer,
    simulate_world,
)
from world.templates import all_templates


@pytest.mark.parametrize(
    ("text", "answer", "wrong", "expected"),
    [
        ("Your sister is called Ana.", "Ana", (), True),
        ("ana.", "Ana", (), True),
        ("Ana's lovely.", "Ana", (), True),
        ("Anastasia.", "Ana", (), False),
        ("It's Ana, not Bea.", "Ana", ("Bea",), False),
        ("I think it's Bea. Or maybe Ana.", "Ana", (), False),
        ("\n  Ana\nBea", "Ana", ("Bea",), True),
        ("Sure! It's Ana.", "Ana", (), True),
        ("You live in San   Francisco.", "San Francisco", (), True),
        ("You live in San Diego.", "San Francisco", (), False),
        ("I don't know, maybe Ana?", "Ana", (), False),
        ("", "Ana", (), False),
        ("You drive a Honda CR-V.", "Honda CR-V", ("Honda Civic",), True),
    ],
)
def test_score_answer(text, answer, wrong, expected):
    assert score_answer(text, answer, wrong) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I don't know.", True),
        ("I do not know that.", True),
        ("Hmm, I'm not sure. You never told me.", True),
        ("You haven't mentioned that.", True),
        ("I don\u2019t remember you telling me.", True),
        ("Sorry. I don't know.", True),
        ("Ana.", False),
        ("Ana. I'm not sure though.", False),
        ("Your sister is called Ana.", False),
        ("", False),
    ],
)
def test_is_abstention(text, expected):
    assert is_abstention(text) is expected
    assert score_answer(text, ABSTAIN_ANSWER) is expected


def test_cloze_probe():
    probe = cloze_probe("My sister is called Ana.", "Ana")
    assert probe is not None and probe.prompt == "User: My sister is called" and probe.target == " Ana"
    assert cloze_probe("Ana is my sister.", "Ana") is None
    assert cloze_probe("My sister is called Anastasia.", "Ana") is None


def test_cloze_probes_from_world_facts():
    world = simulate_world(4, days=5)
    facts = {k: f.value for k, f in world.facts_at(5).items()}
    probes = cloze_probes(facts, per_fact=2)
    assert {p.relation for p in probes} == set(facts)
    split_of = {t.id: t.split for t in all_templates()}
    for p in probes:
        assert p.target.strip() == facts[p.relation] or p.target.strip().lower() == facts[p.relation].lower()
        assert p.target.startswith(" ") and not p.prompt.endswith(" ")
        assert facts[p.relation].lower() not in p.prompt.lower()
        assert split_of[p.template_id] == TRAIN


def test_qa_probe_pairs_use_train_templates():
    facts = {"sister": "Ana", "car": "Honda Civic", "gym_day": "Tuesday"}
    probes = qa_probe_pairs(facts, per_fact=3)
    assert len(probes) == 9
    assert all(p.split == TRAIN for p in probes)
    assert len({p.question for p in probes}) == 9
    for p in probes:
        assert p.answer == facts[p.relation] and score_answer(p.reply, p.answer)
        assert p.answer.lower() not in p.question.lower()
    assert all(p.split == HELDOUT for p in qa_probe_pairs(facts, split=HELDOUT))
