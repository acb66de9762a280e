"""Exact teacher targets on the shipped default model: a question is trained only when the teacher, with
the asked item alone in its context, says the value whole, and then on the teacher's own words; a
negative question gets the teacher's abstention, or "I don't know." by construction."""

from __future__ import annotations

import pytest

from model.bundle import load_bundle
from model.default_model import default_model_path
from tuner.data import MemoryText, cloze_query, qa_query
from tuner.verify import Verification, check_query
from world.scoring import ABSTAIN_ANSWER


@pytest.fixture(scope="module")
def default():
    return load_bundle(default_model_path())


def test_a_question_the_teacher_answers_exactly_trains_on_its_own_words(default):
    item = MemoryText(1, "My sister is called Ottilie.")
    check = check_query(
        default.model,
        default.tokenizer,
        qa_query(1, "What's my sister's name?", "x", value="Ottilie"),
        item,
        default.model.zero_state(1),
    )
    assert check.ok and "Ottilie" in check.query.answer and check.query.answer.endswith("\n\n")
    assert check.query.answer.strip() == check.said.strip()


def test_a_value_the_teacher_does_not_say_is_not_trained_and_is_reported(default):
    item = MemoryText(2, "My sister is called Ottilie.")
    wrong = qa_query(2, "What's my sister's name?", "Your sister is called Radomir.", value="Radomir")
    cloze = cloze_query(2, "User: My sister is called", " Radomir", value="Radomir")
    state = default.model.zero_state(1)
    v = Verification([check_query(default.model, default.tokenizer, q, item, state) for q in (wrong, cloze)])
    assert v.kept == []  # never trained on a value the teacher does not say
    assert v.learnability() == {2: {"Radomir": False}}
    (miss,) = v.misses()
    assert miss["value"] == "Radomir" and miss["question"] == "What's my sister's name?"


def test_negatives_take_the_teachers_abstention_or_a_constructed_one(default):
    item = MemoryText(3, "Remember this: my sister is called Ana and she lives in Porto.")
    state = default.model.zero_state(1)
    asks = [
        qa_query(3, q, ABSTAIN_ANSWER, kind="negative")
        for q in ("What's my brother's name?", "Where do I live?")
    ]
    checks = [check_query(default.model, default.tokenizer, q, item, state) for q in asks]
    for c in checks:
        if c.ok:  # the teacher abstained: its own words are the target
            assert not c.query.hard and "know" in c.query.answer.lower()
        else:  # it named a value (the sister's city for the user's): "I don't know." by construction
            assert c.query.hard and c.query.answer == " I don't know.\n\n"
