"""Slot extraction: several phrasings per relation, exact spans, and silence when unsure."""

from __future__ import annotations

import pytest

from reflection.redact import redact
from reflection.slots import MULTI_VALUED, Slot, extract_slots

POSITIVE = [
    # city
    ("I live in Oslo", "city", "Oslo"),
    ("We moved to Lisbon last month!", "city", "Lisbon"),
    ("I'm now based in New York City.", "city", "New York City"),
    ("I've just moved to St. Louis, it's hot.", "city", "St. Louis"),
    ("we relocated to Rio de Janeiro in 2021", "city", "Rio de Janeiro"),
    ("Actually, no, I live in Bergen now.", "city", "Bergen"),
    ("In May we moved to Lisbon.", "city", "Lisbon"),
    ("my new home is Porto", "city", "Porto"),
    ("I'm from Sweden originally", "hometown", "Sweden"),
    ("I grew up in Rio de Janeiro.", "hometown", "Rio de Janeiro"),
    # employer
    ("I work at Google", "employer", "Google"),
    ("I work for the BBC.", "employer", "BBC"),
    ("I started a new job at Acme Corp today", "employer", "Acme Corp"),
    ("I got a job at H&M", "employer", "H&M"),
    ("I just joined Spotify", "employer", "Spotify"),
    ("I'm working at Deutsche Bank these days", "employer", "Deutsche Bank"),
    ("my employer is Siemens", "employer", "Siemens"),
    # job title
    ("I'm a nurse", "job_title", "nurse"),
    ("I work as a nurse", "job_title", "nurse"),
    ("I'm a registered nurse at St Mary's.", "job_title", "registered nurse"),
    ("I am a software engineer.", "job_title", "software engineer"),
    ("I work as a freelance graphic designer for small shops", "job_title", "freelance graphic designer"),
    ("I just became a teacher", "job_title", "teacher"),
    # people
    ("my sister's name is Ana", "sister", "Ana"),
    ("My sister is called Ana.", "sister", "Ana"),
    ("my sister, Ana, is visiting", "sister", "Ana"),
    ("My brother Tom lives in Paris.", "brother", "Tom"),
    ("my wife is named Maria", "partner", "Maria"),
    ("my boyfriend is Alex", "partner", "Alex"),
    ("my best friend is Jo", "best_friend", "Jo"),
    ("I have a son named Leo", "son", "Leo"),
    ("my mom's name is Ingrid", "mother", "Ingrid"),
    ("my friend Priya helped", "friend", "Priya"),
    # pets
    ("my dog is named Rex", "dog", "Rex"),
    ("I have a dog named Rex", "dog", "Rex"),
    ("we adopted a puppy called Luna", "dog", "Luna"),
    ("our cat Milo hates baths", "cat", "Milo"),
    ("My cat's name is Mochi.", "cat", "Mochi"),
    # favourites
    ("my favourite food is sushi", "favourite_food", "sushi"),
    ("My favorite color is blue.", "favourite_colour", "blue"),
    ("my fave band is Arctic Monkeys", "favourite_band", "Arctic Monkeys"),
    ("my favourite movie is The Lord of the Rings", "favourite_movie", "The Lord of the Rings"),
    # identity
    ("My name is Sam", "name", "Sam"),
    ("you can call me Sam", "name", "Sam"),
    ("I'm 34 years old", "age", "34"),
    ("I just turned 40.", "age", "40"),
]


@pytest.mark.parametrize(("text", "relation", "value"), POSITIVE, ids=[p[0] for p in POSITIVE])
def test_extracts(text, relation, value):
    slots = extract_slots(text)
    assert [(s.subject, s.relation, s.value) for s in slots] == [("user", relation, value)], slots
    start, end = slots[0].span
    assert text[start:end] == value
    assert slots[0].functional == (relation not in MULTI_VALUED)


NEGATIVE = [
    "I don't live in Oslo",
    "I used to live in Oslo",
    "If I moved to Lisbon, I'd be happy",
    "Do you live in Oslo?",
    "Where do you work?",
    "I want to move to Berlin",
    "I'm thinking about moving to Berlin",
    "I live in oslo",  # lowercase: cannot tell a city from a word
    "I work at home",
    "I joined a gym",
    "I'm no longer at Acme",
    "I never worked for Google",
    "I'm a big fan of jazz",
    "I'm a bit tired",
    "I'm 5 minutes away",
    "call me tomorrow",
    "I called my mom Sunday",
    "My sister lives in Paris",
    "She lives in Oslo",
    "The weather in Oslo is cold",
    "I live in Oslo and moved to Lisbon",  # two values for one relation in one text: unsure
    "",
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_unsure_gives_nothing(text):
    assert extract_slots(text) == []


def test_several_slots_in_one_message():
    text = "I'm a nurse and I work at St. Olav Hospital. My dog Rex and my cat Mochi love our flat in Bergen."
    got = {(s.relation, s.value) for s in extract_slots(text)}
    assert got == {
        ("job_title", "nurse"),
        ("employer", "St. Olav Hospital"),
        ("dog", "Rex"),
        ("cat", "Mochi"),
    }
    for s in extract_slots(text):
        assert text[s.span[0] : s.span[1]] == s.value


def test_multi_valued_relations_keep_every_value():
    slots = extract_slots("My friend Priya and my friend Jonas came over.")
    assert [(s.relation, s.value, s.functional) for s in slots] == [
        ("friend", "Priya", False),
        ("friend", "Jonas", False),
    ]


def test_redaction_masks_are_never_values():
    text = redact("I live in Oslo. My name is Sam, email sam@example.com").text
    assert {s.relation for s in extract_slots(text)} == {"city", "name"}
    assert extract_slots("I work at [REDACTED:email]") == []


def test_slot_is_a_frozen_value():
    s = Slot("user", "city", "Oslo", (10, 14))
    with pytest.raises(AttributeError):
        s.value = "Bergen"  # type: ignore[misc]
    assert s.functional
    assert extract_slots("I live in Oslo") == extract_slots("I live in Oslo")
