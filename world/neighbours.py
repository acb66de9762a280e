"""Questions whose right answer is "I don't know.": near neighbours of what the memory holds, and things it
holds nothing about.

A tuned state that learned "my sister is called Ana" and nothing else tends to answer "Ana" for the
mother, the boss and the city too: it learned the value, not what it is bound to. Two kinds of negative
question teach (in training) and measure (in the gates) the binding:
- *near neighbours* of a held fact: the brother or the mother when the sister was told, where the sister
  lives when only her name was told, another pet when the dog was told, the hometown next to the city;
- *free* questions about relations the memory holds nothing for.

A fact's *address* is what a question asks about: a persona relation ("sister") or an everyday frame with
its noun ("named_pet:parrot", "person_city:sister", "purchase"). Questions are rendered from the persona
world's templates for the address's kind ("train" phrasings for training, "heldout" ones for the gates).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from world import everyday
from world.facts import RELATIONS, relation
from world.templates import question_templates, render, templates

PERSON = "person"
USER_KINDS = frozenset(
    {"user_name", "job_title", "employer", "city", "hometown", "favourite", "hobby", "gym_day", "trip", "car"}
    | {"instrument"}
)
# Pairs of user relations a model confuses most easily (one is taught, the other asked).
_PAIRED = {
    "city": ("hometown", "trip_destination"),
    "hometown": ("city",),
    "employer": ("job_title",),
    "job_title": ("employer",),
    "trip_destination": ("city",),
}


# Everyday frames whose answer has the shape of a user relation's value: a state that learned the user's
# job says it for anyone's job, the user's city for anyone's city, the gym day for any event's day.
_COUNTERPARTS = {
    "job_title": "person_job",
    "employer": "person_job",
    "city": "person_city",
    "hometown": "person_city",
    "trip_destination": "person_city",
    "gym_day": "event_day",
}


@dataclass(frozen=True)
class Address:
    relation: str  # "sister" or "<everyday kind>:<noun>" or "purchase"
    kind: str  # template kind of its questions
    noun: str  # what fills {noun}

    @property
    def everyday(self) -> bool:
        return ":" in self.relation or self.relation == "purchase"


def persona(key: str) -> Address:
    rel = relation(key)
    return Address(key, rel.kind, rel.nouns[0])


def everyday_address(kind: str, noun: str) -> Address:
    """An everyday frame with its noun ("named_pet", "parrot")."""
    if kind == "purchase":
        return Address("purchase", "purchase", "thing")
    return Address(f"{kind}:{noun}", everyday.template_kind(kind), noun)


def parse(relation_key: str, noun: str | None = None) -> Address:
    """The address of a stored relation key ("sister", "named_pet:parrot", "purchase")."""
    if relation_key == "purchase":
        return everyday_address("purchase", "thing")
    if ":" in relation_key:
        kind, n = relation_key.split(":", 1)
        return everyday_address(kind, noun or n)
    return persona(relation_key)


_PERSONA_PEOPLE = tuple(r.key for r in RELATIONS if r.kind == PERSON)
_PERSONA_PETS = tuple(r.key for r in RELATIONS if r.kind == "pet")
_USER = tuple(r.key for r in RELATIONS if r.kind in USER_KINDS)


def _people(kind: str) -> list[Address]:
    return [everyday_address(kind, n) for n in everyday.PERSON_NOUNS]


def near(addr: Address) -> list[list[Address]]:
    """Addresses a model is most likely to confuse with `addr`, in tiers, closest first (not filtered).

    Tier 0 is asked first whatever the budget: the same person's other attributes (what my best friend
    does for work, once her name was told) and the user relations paired with this one. Tier 1: the
    persona relations of the same kind, and the everyday frames a taught value is poured into (another
    person's job once the user's job was told; measured: "What does my landlord work as?" -> "You're an
    airline pilot."). Tier 2: everything else of the family."""
    head = addr.relation.split(":", 1)[0]
    own: list[Address] = []
    close: list[Address] = []
    far: list[Address] = []
    if addr.kind == PERSON:  # this person's city and job, then another person's name
        own += [everyday_address("person_city", addr.noun), everyday_address("person_job", addr.noun)]
        close += [persona(k) for k in _PERSONA_PEOPLE]
        far += _people("named_person")
    elif addr.kind == "pet":
        close += [persona(k) for k in _PERSONA_PETS]
        far += [everyday_address("named_pet", n) for n in everyday.PET_NOUNS]
    elif head == "thing":
        far += [everyday_address("thing", n) for n in everyday.THING_NOUNS]
    elif head == "person_city":
        own += [everyday_address("person_job", addr.noun)]
        close += [persona("city"), persona("hometown")]
        far += _people("person_city")
    elif head == "person_job":
        own += [everyday_address("person_city", addr.noun)]
        close += [persona("job_title")]
        far += _people("person_job")
    elif head == "gift":
        close += [everyday_address("purchase", "thing")]
        far += _people("gift")
    elif head == "purchase":
        far += _people("gift")
    elif head == "event_day":
        close += [persona("gym_day")]
        far += [everyday_address("event_day", n) for n in everyday.EVENT_NOUNS]
    else:  # a persona fact about the user: its paired relations, then the same kind and its everyday frame
        own += [persona(k) for k in _PAIRED.get(addr.relation, ())]
        close += [persona(r.key) for r in RELATIONS if r.kind == addr.kind]
        frame = _COUNTERPARTS.get(addr.relation)
        close += [everyday_address(frame, n) for n in everyday.NOUNS[frame]] if frame else []
        far += [persona(k) for k in _USER]
    keep = lambda tier: [a for a in dict.fromkeys(tier) if a.relation != addr.relation]  # noqa: E731
    return [keep(own), keep(close), keep(far)]


def free_pool() -> list[Address]:
    """Every address a question can ask about: persona relations first, then everyday ones."""
    out = [persona(r.key) for r in RELATIONS]
    for kind in ("named_person", "named_pet", "thing", "person_city", "person_job", "gift", "event_day"):
        out += [everyday_address(kind, n) for n in everyday.NOUNS[kind]]
    out.append(everyday_address("purchase", "thing"))
    return out


def question(addr: Address, split: str, rng: random.Random) -> str:
    """One question about `addr` in a phrasing of `split`."""
    pool = (
        templates("question", addr.kind, split) if addr.everyday else question_templates(addr.relation, split)
    )
    return render(rng.choice(pool).text, "", noun=addr.noun)


@dataclass(frozen=True)
class Negative:
    question: str
    address: Address
    near_of: str | None  # the held relation it neighbours; None for a free question


def _blocked(held: set[str]) -> set[str]:
    """Relations not to ask about: held ones, and persona relations held under an everyday noun."""
    out = set(held)
    for key in held:
        if ":" in key:
            kind, noun = key.split(":", 1)
            out |= {r.key for r in RELATIONS if noun in r.nouns and kind in ("named_person", "named_pet")}
    return out


def negative_questions(
    held: Sequence[Address],
    *,
    split: str,
    near_per_fact: int,
    free: int,
    seed: str,
    exclude: Iterable[str] = (),
) -> list[Negative]:
    """Questions about nothing the memory holds: `near_per_fact` near neighbours of each held address,
    then `free` questions about other relations, each address asked at most once. Deterministic in seed."""
    blocked = _blocked({a.relation for a in held}) | set(exclude)
    asked: set[str] = set()
    out: list[Negative] = []
    for addr in held:
        rng = random.Random(hashlib.sha256(f"near|{seed}|{addr.relation}|{split}".encode()).hexdigest())
        order: list[Address] = []
        for tier in near(addr):  # the closest tier first, each drawn at random so nights vary
            tier = [a for a in tier if a.relation not in blocked]
            rng.shuffle(tier)
            order += tier
        taken = 0
        for a in order:
            if taken >= near_per_fact:
                break
            if a.relation in asked:
                continue
            asked.add(a.relation)
            out.append(Negative(question(a, split, rng), a, addr.relation))
            taken += 1
    rng = random.Random(hashlib.sha256(f"free|{seed}|{split}".encode()).hexdigest())
    pool = [a for a in free_pool() if a.relation not in blocked and a.relation not in asked]
    persona_pool = [a for a in pool if not a.everyday]
    everyday_pool = [a for a in pool if a.everyday]
    rng.shuffle(persona_pool)
    rng.shuffle(everyday_pool)
    mixed = [a for pair in zip(persona_pool, everyday_pool, strict=False) for a in pair]
    mixed += persona_pool[len(everyday_pool) :] + everyday_pool[len(persona_pool) :]
    for a in mixed[:free]:
        out.append(Negative(question(a, split, rng), a, None))
    return out
