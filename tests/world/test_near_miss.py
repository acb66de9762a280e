"""Exact values: a near miss ("Radomina" for Radomir) is a miss, and it is named, so "almost learned" shows;
a blend borrows from another value of the night ("Raddeus": Radomir's head, Thaddeus's tail)."""

from __future__ import annotations

import pytest

from world.scoring import blend, near_miss, score_answer, truncated


@pytest.mark.parametrize(
    ("reply", "value", "miss"),
    [
        ("Your brother is called Radomina.", "Radomir", "Radomina"),
        ("Your mother's name is Sunny.", "Sunniva", "Sunny"),
        ("Your grandmother is Leocado.", "Leocadia", "Leocado"),
        ("You work at Haliversity Logistics.", "Halvorsen Logistics", "Haliversity Logistics"),
        ("You live in Tarra.", "Tarragona", "Tarra"),
    ],
)
def test_a_near_miss_is_a_miss_and_is_named(reply, value, miss):
    assert not score_answer(reply, value)
    assert near_miss(reply, value) == miss


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("Your brother is called Radomir.", "Radomir"),  # right: not a miss at all
        ("I don't know.", "Radomir"),  # an abstention is not a near miss
        ("Your dog is called Biscuit.", "Ana"),  # another value entirely
        ("Your sister and I went out.", "Andy"),  # "and" is never a value, however alike
    ],
)
def test_right_answers_abstentions_and_other_values_are_not_near_misses(reply, value):
    assert near_miss(reply, value) is None


def test_truncation_and_blends_are_told_apart():
    assert truncated("You live in Tarra.", "Tarragona")
    assert not truncated("Your mother's name is Sunny.", "Sunniva")  # not a cut: another name
    assert blend("Raddeus", "Radomir", ["Radomir", "Thaddeus", "Sunniva"]) == "Thaddeus"
    assert blend("Sunny", "Sunniva", ["Radomir", "Thaddeus"]) is None
