"""Relations a persona has, facts (one value of one relation), and value sampling.

A relation is what a question asks about ("my sister's name"); a fact is one value of it that the user
stated at some point. Updates create a new fact that supersedes the old one, so a relation has a history.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from world.pools import POOLS, value_split


@dataclass(frozen=True)
class Relation:
    """One thing the user can tell the assistant about themselves.

    kind: the template family used to phrase it (relations of one kind share frames, e.g. all "person"
        relations use "My {noun} is called {X}.").
    pool: name of the value pool in `pools.POOLS`.
    nouns: words that fill {noun} in templates; each use picks one, so "mother" is also "mom" and "mum".
    mutable: whether the simulator may update it (a sister's name never changes; a city does).
    """

    key: str
    kind: str
    pool: str
    nouns: tuple[str, ...]
    mutable: bool
    description: str


RELATIONS: tuple[Relation, ...] = (
    Relation("user_name", "user_name", "any_names", ("name",), False, "the user's own first name"),
    Relation("sister", "person", "female_names", ("sister",), False, "sister's name"),
    Relation("brother", "person", "male_names", ("brother",), False, "brother's name"),
    Relation("mother", "person", "female_names", ("mother", "mom", "mum"), False, "mother's name"),
    Relation("father", "person", "male_names", ("father", "dad"), False, "father's name"),
    Relation(
        "grandmother",
        "person",
        "female_names",
        ("grandmother", "grandma", "nan"),
        False,
        "grandmother's name",
    ),
    Relation("cousin", "person", "any_names", ("cousin",), False, "cousin's name"),
    Relation("partner", "person", "any_names", ("partner",), True, "partner's name"),
    Relation("best_friend", "person", "any_names", ("best friend",), False, "best friend's name"),
    Relation("boss", "person", "any_names", ("boss", "manager"), True, "boss's name"),
    Relation(
        "neighbour", "person", "any_names", ("neighbour", "next-door neighbour"), True, "neighbour's name"
    ),
    Relation("dog", "pet", "pet_names", ("dog",), True, "dog's name"),
    Relation("cat", "pet", "pet_names", ("cat",), True, "cat's name"),
    Relation("job_title", "job_title", "job_titles", ("job",), True, "job title"),
    Relation("employer", "employer", "employers", ("employer",), True, "employer"),
    Relation("city", "city", "cities", ("city",), True, "city the user lives in"),
    Relation("hometown", "hometown", "cities", ("hometown",), False, "city the user grew up in"),
    Relation("favourite_food", "favourite", "foods", ("food", "dish"), True, "favourite food"),
    Relation("favourite_drink", "favourite", "drinks", ("drink",), True, "favourite drink"),
    Relation("favourite_colour", "favourite", "colours", ("colour", "color"), True, "favourite colour"),
    Relation("favourite_sport", "favourite", "sports", ("sport",), True, "favourite sport"),
    Relation("hobby", "hobby", "hobbies", ("hobby",), True, "main hobby"),
    Relation("gym_day", "gym_day", "weekdays", ("gym day",), True, "weekly gym day"),
    Relation("trip_destination", "trip", "destinations", ("trip",), True, "destination of the upcoming trip"),
    Relation("car", "car", "cars", ("car",), True, "car the user drives"),
    Relation("instrument", "instrument", "instruments", ("instrument",), True, "instrument the user plays"),
)

RELATIONS_BY_KEY: dict[str, Relation] = {r.key: r for r in RELATIONS}

# The slot grammar's relation names (reflection/slots.py) -> persona relation keys: a fact reflection finds
# is asked about with the world's templates for that relation.
WORLD_RELATIONS = {
    "city": "city",
    "hometown": "hometown",
    "employer": "employer",
    "job_title": "job_title",
    "sister": "sister",
    "brother": "brother",
    "mother": "mother",
    "father": "father",
    "partner": "partner",
    "best_friend": "best_friend",
    "boss": "boss",
    "cousin": "cousin",
    "grandmother": "grandmother",
    "dog": "dog",
    "cat": "cat",
    "favourite_food": "favourite_food",
    "favourite_drink": "favourite_drink",
    "favourite_colour": "favourite_colour",
    "favourite_sport": "favourite_sport",
    "name": "user_name",
}
# Persona relation keys -> the slot grammar's names (the same but for the user's name).
SLOT_NAMES = {key: name for name, key in WORLD_RELATIONS.items()}

KINDS: tuple[str, ...] = tuple(dict.fromkeys(r.kind for r in RELATIONS))


def relation(key: str) -> Relation:
    try:
        return RELATIONS_BY_KEY[key]
    except KeyError:
        raise ValueError(f"unknown relation {key!r}; known: {', '.join(RELATIONS_BY_KEY)}") from None


@dataclass(frozen=True)
class Fact:
    """One stated value of a relation.

    id: unique within the world ("w007-f012"); day: 1-based day it was stated; message_id: the user
    message that stated it; supersedes: the fact id it replaced (None for a first reveal).
    """

    id: str
    relation: str
    value: str
    day: int
    message_id: str
    supersedes: str | None = None


@functools.lru_cache(maxsize=8192)
def _span_pattern(span: str) -> re.Pattern[str]:
    # Whole-word, case-insensitive, any run of whitespace between the span's words. Word characters are
    # letters and digits, so "Ana" does not match inside "Anais" but does match in "Ana's".
    words = [re.escape(w) for w in span.split()]
    return re.compile(r"(?<![A-Za-z0-9])" + r"\s+".join(words) + r"(?![A-Za-z0-9])", re.IGNORECASE)


def mentions(text: str, span: str) -> bool:
    """True if `span` occurs in `text` as whole words (case-insensitive)."""
    return bool(span.strip()) and _span_pattern(span).search(text) is not None


def find_span(text: str, span: str) -> tuple[int, int] | None:
    """(start, end) of the first whole-word occurrence of `span` in `text`, or None."""
    m = _span_pattern(span).search(text) if span.strip() else None
    return (m.start(), m.end()) if m else None


def overlaps(a: str, b: str) -> bool:
    """True if either value contains the other as whole words ("navy" and "navy blue")."""
    return mentions(a, b) or mentions(b, a)


def sample_value(
    rng: random.Random, rel: Relation, taken: Iterable[str] = (), split: str | None = None
) -> str:
    """A value for `rel` from its pool that overlaps none of `taken` (values the persona already uses);
    with `split`, only values of that split (pools.value_split: "train" ones are what pretraining uses)."""
    taken = tuple(taken)
    pool = POOLS[rel.pool]
    if split is not None and rel.pool != "weekdays":  # seven weekdays are too few to split
        pool = tuple(v for v in pool if value_split(v) == split)
    for _ in range(200):
        value = rng.choice(pool)
        if not any(overlaps(value, t) for t in taken):
            return value
    # A persona uses a few dozen values against pools of hundreds; reaching this means a tiny pool
    # (weekdays) is exhausted, which the simulator avoids by limiting updates.
    free = [v for v in pool if not any(overlaps(v, t) for t in taken)]
    if not free:
        raise ValueError(f"no free value left for relation {rel.key!r}")
    return rng.choice(free)


def sample_persona(
    rng: random.Random,
    relations: Iterable[Relation] = RELATIONS,
    taken: Iterable[str] = (),
    split: str | None = None,
) -> dict[str, str]:
    """One value per relation, no two overlapping (of `split` only, if given). Deterministic for a given
    rng state."""
    values: dict[str, str] = {}
    used = list(taken)
    for rel in relations:
        value = sample_value(rng, rel, used, split)
        values[rel.key] = value
        used.append(value)
    return values


def persona_signature(values: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A hashable, order-independent identity of a persona (used to check seed-space separation)."""
    return tuple(sorted(values.items()))
