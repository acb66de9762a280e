"""Everyday facts beyond the persona's fixed relations: anything named, what a relative does or where they
live, purchases, gifts and appointments.

A persona relation has one fixed meaning ("my sister's name"); an everyday *kind* is a frame that takes
an open noun: "My {noun} is called {X}." holds for a parrot, a boat or an uncle. The kinds share the
template machinery of the persona world (templates.py: families, a hashed train/heldout split), so
self-study questions for a fact nobody planned for come from "train" phrasings and its acquisition is
scored on "heldout" ones.

Nouns are split too: `heldout_nouns` are never used by pretraining chats, so the default model's card can
measure everyday recall on nouns, phrasings and values it never saw.

Writing rules as in phrasings.py. {noun} is the open noun ("parrot", "dentist appointment").
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from world.facts import overlaps
from world.pools import POOLS, value_split

# Person nouns outside the persona relations (sister, boss, ... have relations of their own).
PERSON_NOUNS: tuple[str, ...] = (
    "uncle",
    "aunt",
    "niece",
    "nephew",
    "grandfather",
    "grandpa",
    "godmother",
    "godfather",
    "stepbrother",
    "stepsister",
    "son",
    "daughter",
    "roommate",
    "flatmate",
    "landlord",
    "landlady",
    "dentist",
    "doctor",
    "therapist",
    "colleague",
    "coach",
    "piano teacher",
    "mentor",
    "babysitter",
    "brother-in-law",
    "sister-in-law",
    "father-in-law",
    "mother-in-law",
    "team lead",
    "business partner",
)
# Pets beyond the persona's dog and cat.
PET_NOUNS: tuple[str, ...] = (
    "parrot",
    "hamster",
    "rabbit",
    "tortoise",
    "turtle",
    "goldfish",
    "horse",
    "pony",
    "canary",
    "guinea pig",
    "ferret",
    "lizard",
    "snake",
    "budgie",
    "chicken",
    "goat",
    "puppy",
    "kitten",
    "gecko",
    "cockatoo",
)
# Things people name.
THING_NOUNS: tuple[str, ...] = (
    "boat",
    "bike",
    "van",
    "campervan",
    "plant",
    "sourdough starter",
    "robot vacuum",
    "guitar",
    "laptop",
    "canoe",
    "motorbike",
    "cactus",
    "telescope",
    "tractor",
    "scooter",
    "sailboat",
    "kayak",
    "drone",
    "piano",
    "teddy bear",
)
EVENT_NOUNS: tuple[str, ...] = (
    "dentist appointment",
    "job interview",
    "piano lesson",
    "book club",
    "haircut",
    "driving test",
    "yoga class",
    "team meeting",
    "doctor's appointment",
    "flight",
    "exam",
    "pottery class",
    "dance class",
    "vet appointment",
    "choir practice",
    "swimming lesson",
    "parents' evening",
    "tax deadline",
    "football match",
    "physio session",
)

NOUNS: dict[str, tuple[str, ...]] = {
    "named_person": PERSON_NOUNS,
    "named_pet": PET_NOUNS,
    "thing": THING_NOUNS,
    "person_city": PERSON_NOUNS,
    "person_job": PERSON_NOUNS,
    "gift": PERSON_NOUNS,
    "event_day": EVENT_NOUNS,
    "purchase": ("thing",),
}
# Persona-world template kinds these frames borrow (a named uncle is asked about like a named sister).
BORROWED = {"named_person": "person", "named_pet": "pet"}

STATEMENTS: dict[str, tuple[str, ...]] = {
    "thing": (
        "My {noun} is called {X}.",
        "I named my {noun} {X}.",
        "My {noun}'s name is {X}.",
        "I call my {noun} {X}.",
        "We named our {noun} {X}.",
        "Meet {X}, my {noun}.",
        "My {noun} has a name: {X}.",
        "I finally gave my {noun} a name, it's {X}.",
        "The {noun} I have is called {X}.",
        "Everyone knows my {noun} as {X}.",
        "I decided to call my {noun} {X}.",
        "My {noun}? I named it {X}.",
    ),
    "person_city": (
        "My {noun} lives in {X}.",
        "My {noun} moved to {X}.",
        "My {noun} is based in {X}.",
        "My {noun} has lived in {X} for years.",
        "These days my {noun} lives in {X}.",
        "My {noun} just moved to {X}.",
        "My {noun} settled in {X}.",
        "My {noun}'s home is in {X}.",
        "My {noun} lives over in {X}.",
        "My {noun} is living in {X} now.",
    ),
    "person_job": (
        "My {noun} is {a_X}.",
        "My {noun} works as {a_X}.",
        "My {noun} has a job as {a_X}.",
        "My {noun} became {a_X} last year.",
        "My {noun} is working as {a_X}.",
        "By trade my {noun} is {a_X}.",
        "My {noun} earns a living as {a_X}.",
        "My {noun} trained as {a_X}.",
        "My {noun} works full time as {a_X}.",
        "My {noun}'s job? {X}.",
        "My {noun} makes a living as {a_X}.",
        "For work, my {noun} is {a_X}.",
        "Professionally, my {noun} is {a_X}.",
        "My {noun} has been {a_X} for ten years.",
        "In case it matters, my {noun} is employed as {a_X}.",
        "My {noun} retrained and is now {a_X}.",
        "You'd never guess my {noun}'s job: {a_X}.",
    ),
    "purchase": (
        "I finally bought {a_X}!",
        "I just bought {a_X}.",
        "I bought myself {a_X}.",
        "I got myself {a_X} yesterday.",
        "Guess what, I bought {a_X}.",
        "I treated myself to {a_X}.",
        "I just ordered {a_X}.",
        "Yesterday I bought {a_X}.",
        "I went shopping and came back with {a_X}.",
        "I splurged on {a_X} this week.",
        "My latest purchase is {a_X}.",
        "I picked up {a_X} at the weekend.",
    ),
    "gift": (
        "My {noun} gave me {a_X} for my birthday.",
        "My {noun} gave me {a_X}.",
        "I got {a_X} from my {noun}.",
        "My {noun} surprised me with {a_X}.",
        "My {noun} bought me {a_X} as a present.",
        "For my birthday my {noun} got me {a_X}.",
        "My {noun}'s present to me was {a_X}.",
        "I received {a_X} from my {noun}.",
        "My {noun} sent me {a_X} as a gift.",
        "Look what my {noun} gave me: {a_X}.",
    ),
    "event_day": (
        "My {noun} is on {X}.",
        "I have my {noun} on {X}.",
        "My {noun} got moved to {X}.",
        "Don't let me forget, my {noun} is on {X}.",
        "My {noun} is booked for {X}.",
        "My next {noun} is on {X}.",
        "I've got my {noun} on {X}.",
        "My {noun} is scheduled for {X}.",
        "The {noun} is set for {X}.",
        "My {noun} falls on {X}.",
        "Mark {X} in the calendar: that's my {noun}.",
        "{X} is the date of my {noun}.",
        "They put my {noun} down for {X}.",
        "I'm booked in for my {noun} on {X}.",
        "The date for my {noun} is {X}.",
        "My {noun}? It's on {X}.",
    ),
}

QUESTIONS: dict[str, tuple[str, ...]] = {
    "thing": (
        "What's my {noun} called?",
        "What did I name my {noun}?",
        "What's the name of my {noun}?",
        "What do I call my {noun}?",
        "Do you remember what my {noun} is called?",
        "What name did I give my {noun}?",
        "Remind me, what's my {noun}'s name?",
        "What is my {noun} named?",
        "Can you tell me what I call my {noun}?",
        "My {noun} has a name, do you know it?",
        "What did I say my {noun} was called?",
        "Do you recall the name of my {noun}?",
    ),
    "person_city": (
        "Where does my {noun} live?",
        "Which city does my {noun} live in?",
        "Where is my {noun} based?",
        "Remind me, where does my {noun} live?",
        "Do you remember where my {noun} lives?",
        "Where did my {noun} move to?",
        "What city is my {noun} in?",
        "Where's my {noun}'s home?",
        "Do you know where my {noun} lives?",
        "In which town does my {noun} live?",
        "Where did I say my {noun} lives?",
        "Where can I find my {noun} these days?",
    ),
    "person_job": (
        "What does my {noun} do for a living?",
        "What's my {noun}'s job?",
        "What does my {noun} work as?",
        "Remind me, what's my {noun}'s job?",
        "Do you remember what my {noun} does?",
        "What is my {noun}'s profession?",
        "What job does my {noun} have?",
        "What does my {noun} do for work?",
        "How does my {noun} earn a living?",
        "Do you know my {noun}'s line of work?",
        "What did I say my {noun} does?",
        "What's my {noun}'s occupation?",
    ),
    "purchase": (
        "What did I buy?",
        "What did I recently buy?",
        "What did I just get myself?",
        "Do you remember what I bought?",
        "What was my latest purchase?",
        "What did I treat myself to?",
        "Remind me, what did I buy?",
        "What did I order?",
        "What did I come back with from shopping?",
        "What did I spend my money on?",
        "What's the thing I bought?",
        "What did I pick up recently?",
    ),
    "gift": (
        "What did my {noun} give me?",
        "What present did I get from my {noun}?",
        "What did I get from my {noun}?",
        "Do you remember what my {noun} gave me?",
        "What was my {noun}'s present to me?",
        "What did my {noun} buy me?",
        "Remind me, what did my {noun} give me?",
        "What gift did my {noun} give me?",
        "What did my {noun} surprise me with?",
        "What did I receive from my {noun}?",
        "What did my {noun} send me?",
        "Which present came from my {noun}?",
        "Any idea what my {noun} got me?",
        "Which gift was from my {noun}?",
        "My {noun} got me something, what was it?",
        "Tell me the present my {noun} chose for me.",
        "What was the gift from my {noun}?",
        "How did my {noun} spoil me?",
        "What's the thing my {noun} handed me for my birthday?",
        "My {noun}'s gift, what was that again?",
        "Did my {noun} get me anything? What?",
        "For my birthday, my {noun} chose what?",
        "Which item was a present from my {noun}?",
        "I can't recall my {noun}'s present. Can you?",
    ),
    "event_day": (
        "When is my {noun}?",
        "What day is my {noun}?",
        "When's my {noun} again?",
        "Do you remember when my {noun} is?",
        "Which day is my {noun} on?",
        "What day did I say my {noun} is?",
        "Remind me, when is my {noun}?",
        "When do I have my {noun}?",
        "On what day is my {noun}?",
        "When is my next {noun}?",
        "What's the day of my {noun}?",
        "When is my {noun} scheduled?",
    ),
}

ANSWERS: dict[str, tuple[str, ...]] = {
    "thing": ("Your {noun} is called {X}.", "{X}.", "You named your {noun} {X}."),
    "person_city": ("Your {noun} lives in {X}.", "{X}.", "Your {noun} is based in {X}."),
    "person_job": ("Your {noun} is {a_X}.", "{a_X}.", "Your {noun} works as {a_X}."),
    "purchase": ("You bought {a_X}.", "{a_X}.", "Your latest purchase is {a_X}."),
    "gift": ("Your {noun} gave you {a_X}.", "{a_X}.", "You got {a_X} from your {noun}."),
    "event_day": ("Your {noun} is on {X}.", "{X}.", "It's on {X}."),
}

KIND_ACKS: dict[str, tuple[str, ...]] = {
    "thing": ("{X} is a great name for a {noun}.", "Ha, {X}! I like it."),
    "person_city": ("{X} sounds like a lovely place.", "Do you visit them in {X} often?"),
    "person_job": ("That sounds like interesting work.", "Being {a_X} must keep them busy."),
    "purchase": ("Enjoy your new {X}!", "Nice, {a_X} sounds fun."),
    "gift": ("What a thoughtful present!", "{a_X}, how lovely!"),
    "event_day": ("Good luck with it!", "Noted, {X} it is."),
}

# Value pools (world/pools.py) of each kind.
VALUE_POOLS: dict[str, str] = {
    "named_person": "any_names",
    "named_pet": "pet_names",
    "thing": "pet_names",
    "person_city": "cities",
    "person_job": "job_titles",
    "purchase": "things",
    "gift": "things",
    "event_day": "dates",
}
KINDS: tuple[str, ...] = tuple(VALUE_POOLS)

# Share of nouns (by hash) that only evaluation uses.
HELDOUT_NOUN_PERCENT = 25


def _heldout(noun: str) -> bool:
    digest = hashlib.sha256(f"everyday-noun|{noun}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELDOUT_NOUN_PERCENT


def nouns(kind: str, split: str | None = None) -> tuple[str, ...]:
    """Nouns of a kind; split "train" or "heldout" (by a hash of the noun), None for all."""
    pool = NOUNS[kind]
    if split is None or kind == "purchase":
        return pool
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train', 'heldout' or None, got {split!r}")
    return tuple(n for n in pool if _heldout(n) == (split == "heldout"))


def template_kind(kind: str) -> str:
    """The template family a kind's questions come from ("named_pet" asks like the persona's "pet")."""
    return BORROWED.get(kind, kind)


@dataclass(frozen=True)
class EverydayFact:
    """One everyday fact: a kind, its noun ("parrot") and its value ("Kasimir")."""

    kind: str
    noun: str
    value: str

    @property
    def relation(self) -> str:
        return "purchase" if self.kind == "purchase" else f"{self.kind}:{self.noun}"

    @property
    def template_kind(self) -> str:
        return template_kind(self.kind)


def sample_everyday(
    rng: random.Random,
    split: str,
    taken: Iterable[str] = (),
    held: Iterable[str] = (),
    kinds: Sequence[str] = KINDS,
) -> EverydayFact:
    """A fact of a random kind, with a noun and a value of `split` ("train": what pretraining may use,
    "heldout": what only evaluation uses), its value overlapping none of `taken`, its relation none of
    `held`."""
    taken, held = tuple(taken), set(held)
    for _ in range(200):
        kind = rng.choice(list(kinds))
        noun = rng.choice(nouns(kind, split))
        relation = "purchase" if kind == "purchase" else f"{kind}:{noun}"
        if relation in held:
            continue
        pool = [v for v in POOLS[VALUE_POOLS[kind]] if value_split(v) == split]
        value = rng.choice(pool)
        # A value that is its own noun ("Scooter" for a scooter) would be given away by the question.
        if not any(overlaps(value, t) for t in (*taken, noun)):
            return EverydayFact(kind, noun, value)
    raise ValueError("no free everyday fact left")
