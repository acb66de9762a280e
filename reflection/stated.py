"""Stated facts in a user's message, and the questions that ask for them.

Self-study needs questions for every fact a user states, not only for the persona world's relations. A
*stated fact* is (relation, template kind, noun, value, span):
- the persona relations come from the slot grammar (slots.py): "My sister is called Ana." -> sister;
- everyday facts come from the rules below, over the sentence: "I just adopted a parrot and named it
  Kasimir." -> (named_pet, parrot, Kasimir), "I finally bought a kayak!" -> (purchase, kayak), "my sister
  ... she lives in Porto" -> (person_city, sister, Porto).

Questions are the persona world's templates for the fact's kind, with the fact's noun: "train" phrasings
for self-study, "heldout" ones for scoring, as for the persona relations. Whether a question is usable
is decided later, by the model itself: the tuner keeps a question only if the teacher, with the memory
in context, answers it with the value (tuner/verify.py).

Like the slot grammar, the rules prefer silence to guessing: questions, negations and hypotheticals state
nothing, and a value must have the right shape (a capitalised name for a name, a weekday or date for a
day, a short noun phrase for a purchase).
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from reflection.slots import _JOBS, Slot, extract_slots, rule_matches
from world import everyday
from world.facts import RELATIONS_BY_KEY, SLOT_NAMES, WORLD_RELATIONS
from world.facts import relation as world_relation
from world.templates import HELDOUT, TRAIN, question_templates, render, templates


@dataclass(frozen=True)
class StatedFact:
    relation: str  # persona relation key ("sister") or "<kind>:<noun>" ("named_pet:parrot", "purchase")
    kind: str  # template kind of its questions ("person", "pet", "thing", "person_city", ...)
    noun: str  # the word questions use ("sister", "parrot", "dentist appointment")
    value: str
    span: tuple[int, int]  # the value's position in the text
    functional: bool = True  # one value at a time (a newer one supersedes it)


def _alts(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_PERSONA_PEOPLE = (
    "sister", "brother", "mother", "mom", "mum", "father", "dad", "cousin", "partner", "wife", "husband",
    "friend", "boss", "manager", "grandmother", "grandma", "neighbour", "neighbor", "girlfriend", "boyfriend",
)  # fmt: skip
_PEOPLE = _alts((*everyday.PERSON_NOUNS, *_PERSONA_PEOPLE, "best friend"))
_PETS = _alts((*everyday.PET_NOUNS, "dog", "cat"))
_THINGS = _alts(everyday.THING_NOUNS)
_EVENTS = _alts(everyday.EVENT_NOUNS)
_NAME = r"(?P<value>[A-Z][a-zà-ÿ'’-]+(?:\s+[A-Z][a-zà-ÿ'’-]+)?)\b"
_PLACE = r"(?P<value>[A-Z][a-zà-ÿ'’.-]+(?:\s+(?:de|da|del|la|le|of|upon|on)?\s*[A-Z][a-zà-ÿ'’.-]+){0,3})\b"
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DAY = (
    rf"(?P<value>{_WEEKDAY}(?:\s+(?:morning|afternoon|evening))?|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}|the\s+\d{{1,2}}(?:st|nd|rd|th))\b"
)
# A purchase or gift: up to four words after the article, ending at punctuation or a preposition.
_THING = (
    r"(?:a|an|some|the|my|our)\s+(?:(?:new|brand\s+new|little|small|big|second-hand|used)\s+)?"
    r"(?P<value>[a-z][a-z-]*(?:\s+[a-z][a-z-]*){0,3}?)(?=\s+(?:for|from|at|in|on|with|as|and|yesterday|today|"
    r"last|this|because|online|to)\b|[.,;!?]|$)"
)
_ADV = r"(?:(?:just|finally|recently|also|actually|officially)\s+)*"
_NAMED_AS = r"(?:'s\s+name\s+is|\s+is\s+called|\s+is\s+named|'s\s+called|\s+goes\s+by|\s+answers\s+to)\s+"
_PRONOUN = r"\b(?:and\s+)?(?:she|he|they)(?:'s)?\s+"


@dataclass(frozen=True)
class _Rule:
    kind: str  # everyday kind; "named" picks person / pet / thing by the noun
    pattern: re.Pattern[str]


def _r(kind: str, *parts: str) -> _Rule:
    return _Rule(kind, re.compile("".join(parts), re.I))


_NOUN_ANY = rf"(?P<noun>{_PEOPLE}|{_PETS}|{_THINGS})"
_N = r"(?-i:" + _NAME + ")"  # a name is capitalised whatever the rule's case
_RULES: tuple[_Rule, ...] = (
    # "My parrot is called Kasimir", "our boat's name is Seagull"
    _r("named", rf"\b(?:my|our)\s+(?:new\s+|little\s+|old\s+)?{_NOUN_ANY}", _NAMED_AS, _N),
    # "I named my parrot Kasimir", "we call our van Bertha"
    _r("named", rf"\b(?:i|we)\s+{_ADV}(?:named|call|called|renamed)\s+(?:my|our)\s+(?:new\s+)?",
       _NOUN_ANY, r"\s+", _N),
    # "I adopted a parrot and named it Kasimir", "we got a puppy called Luna"
    _r("named", rf"\b(?:i|we)(?:'ve|\s+have)?\s+{_ADV}(?:adopted|got|bought|rescued|built|inherited)\s+"
       rf"(?:a|an)\s+(?:new\s+|little\s+|\w+\s+)?{_NOUN_ANY}\s+(?:and\s+)?(?:named|called)\s+"
       r"(?:it|him|her|them\s+)?\s*", _N),
    # "Meet Kasimir, my new parrot", "Kasimir is my parrot"
    _r("named", r"(?:\bmeet\s+)?", _N, r"(?:,\s+|\s+is\s+)(?:my|our)\s+(?:new\s+)?", _NOUN_ANY, r"\b"),
    # "my manager at work is Evander", "my uncle, Bertrand,"
    _r("named", rf"\bmy\s+(?P<noun>{_PEOPLE})(?:\s+(?:at|from)\s+work)?(?:\s+is|,)\s+", _N),
    # "my sister lives in Porto", "... and she lives in Porto"
    _r("person_city", rf"\bmy\s+(?P<noun>{_PEOPLE})\s+(?:\w+\s+)?{_ADV}(?:lives|is\s+living|moved|is\s+based|"
       r"settled|relocated)\s+(?:over\s+)?(?:in|to)\s+", r"(?-i:" + _PLACE + ")"),
    _r("person_city", _PRONOUN + rf"{_ADV}(?:lives|is\s+living|moved|is\s+based|settled|relocated)\s+"
       r"(?:over\s+)?(?:in|to)\s+", r"(?-i:" + _PLACE + ")"),
    # "my uncle is a carpenter", "she works as a nurse"
    _r("person_job", rf"\bmy\s+(?P<noun>{_PEOPLE})\s+(?:is|works\s+as|became|trained\s+as)\s+(?:a|an)\s+",
       r"(?P<value>[a-z]+(?:\s+[a-z]+){0,2}?)(?=[.,;!?]|\s+(?:at|in|for|and)\b|$)"),
    _r("person_job", _PRONOUN + r"(?:is|works\s+as|became|trained\s+as)\s+(?:a|an)\s+",
       r"(?P<value>[a-z]+(?:\s+[a-z]+){0,2}?)(?=[.,;!?]|\s+(?:at|in|for|and)\b|$)"),
    # "I finally bought a kayak!", "I treated myself to a new espresso machine"
    _r("purchase", rf"\b(?:i|we)(?:'ve|\s+have)?\s+{_ADV}(?:bought|purchased|ordered|got\s+myself|"
       rf"treated\s+myself\s+to|splurged\s+on|picked\s+up)\s+(?:myself\s+)?", _THING),
    # "My aunt gave me a scarf", "I got a scarf from my aunt"
    _r("gift", rf"\bmy\s+(?P<noun>{_PEOPLE})\s+{_ADV}(?:gave|bought|got|sent)\s+me\s+", _THING),
    _r("gift", r"\b(?:i|we)\s+(?:got|received)\s+(?:a|an|some|the)\s+(?:new\s+)?"
       rf"(?P<value>[a-z][a-z-]*(?:\s+[a-z][a-z-]*){{0,3}}?)\s+from\s+my\s+(?P<noun>{_PEOPLE})\b"),
    # "My dentist appointment is on Thursday"
    _r("event_day", rf"\bmy\s+(?:next\s+)?(?P<noun>{_EVENTS})\s+(?:is|got\s+moved\s+to|is\s+booked\s+for|"
       rf"is\s+scheduled\s+for|falls)\s+(?:on\s+)?(?-i:{_DAY})"),
    _r("event_day", rf"\bi\s+(?:have|'ve\s+got)\s+(?:my|a|an)\s+(?P<noun>{_EVENTS})\s+(?:on\s+)?",
       rf"(?-i:{_DAY})"),
)  # fmt: skip

_PET_SET = frozenset((*everyday.PET_NOUNS, "dog", "cat"))
_THING_SET = frozenset(everyday.THING_NOUNS)
_BAD_THING = frozenset(
    ["it", "one", "them", "that", "this", "something", "anything", "lot", "bit", "few", "couple"]
)
_PERSON_PRONOUNS = re.compile(r"\b(?:she|he|they)\b", re.I)
_LAST_PERSON = re.compile(rf"\bmy\s+(?P<noun>{_PEOPLE})\b", re.I)


def _named_kind(noun: str) -> str:
    if noun in _PET_SET:
        return "named_pet"
    if noun in _THING_SET:
        return "thing"
    return "named_person"


def _persona_key(kind: str, noun: str) -> str | None:
    """The persona relation a noun names ("mum" -> mother), or None."""
    for key in ("sister", "brother", "mother", "father", "grandmother", "cousin", "partner", "best_friend",
                "boss", "neighbour", "dog", "cat"):  # fmt: skip
        if kind in ("named_person", "named_pet") and noun in world_relation(key).nouns:
            return key
    return {"wife": "partner", "husband": "partner", "girlfriend": "partner", "boyfriend": "partner",
            "manager": "boss", "neighbor": "neighbour", "grandma": "grandmother"}.get(noun)  # fmt: skip


def _clean_value(kind: str, value: str) -> str | None:
    value = value.strip(" '\"“”‘’.,")
    if not value:
        return None
    if kind in ("purchase", "gift"):
        words = value.split()
        if words[0] in _BAD_THING or len(words) > 4:
            return None
    if kind == "person_job" and value.split()[-1] not in _JOBS:
        return None
    return value


def everyday_facts(text: str) -> list[StatedFact]:
    """Everyday facts stated in `text` (rules above); persona relations are `stated_facts`' business."""
    out: list[StatedFact] = []
    for offset, rule, m in rule_matches(text, _RULES):
        kind = rule.kind
        groups = m.groupdict()
        noun = (groups.get("noun") or "").lower()
        if not noun and kind in ("person_city", "person_job"):
            # "... and she lives in Porto": the person is the last one named before the pronoun
            before = [p for p in _LAST_PERSON.finditer(text[: offset + m.start()])]
            if not before or not _PERSON_PRONOUNS.search(m.group(0)):
                continue
            noun = before[-1].group("noun").lower()
        if kind == "named":
            kind = _named_kind(noun)
        if kind == "purchase":
            noun = "thing"
        value = _clean_value(kind, m.group("value"))
        if value is None:
            continue
        start = offset + m.start("value") + m.group("value").find(value)
        relation = f"{kind}:{noun}" if kind != "purchase" else "purchase"
        out.append(
            StatedFact(relation, everyday.template_kind(kind), noun, value, (start, start + len(value)))
        )
    return out


def stated_facts(text: str) -> list[StatedFact]:
    """Every fact the speaker states in `text`: persona relations first, then everyday facts whose value
    no persona relation already covers. One fact per value span."""
    out: list[StatedFact] = []
    for s in extract_slots(text):
        key = WORLD_RELATIONS.get(s.relation, s.relation if s.relation in RELATIONS_BY_KEY else None)
        if key is None:
            continue
        rel = world_relation(key)
        out.append(StatedFact(key, rel.kind, rel.nouns[0], s.value, s.span, s.functional))
    for f in everyday_facts(text):
        key = _persona_key(f.relation.split(":")[0], f.noun)
        if key is not None:  # "my mum is called X" caught by the rules: the persona relation's questions
            rel = world_relation(key)
            f = StatedFact(key, rel.kind, f.noun, f.value, f.span)
        if any(o.span[0] < f.span[1] and f.span[0] < o.span[1] for o in out):
            continue
        out.append(f)
    out.sort(key=lambda f: f.span)
    return out


# The assistant's echo of a user fact, read as the user's own words: "Your gym day is Thursday." holds the
# gym day as much as the user's "My gym day is Thursday." does.
_ECHO = ((re.compile(r"\byou're\b", re.I), "I'm"), (re.compile(r"\byou are\b", re.I), "I am"),
         (re.compile(r"\byour\b", re.I), "my"), (re.compile(r"\byou\b", re.I), "I"))  # fmt: skip


def fact_slots(text: str) -> list[Slot]:
    """The speaker's functional and multi-valued facts as slots: the slot grammar's, and the persona
    relations only the everyday rules catch ("My neighbour, Ottilie, says hi."), so that a later change
    finds and supersedes every item holding the old value."""
    slots = extract_slots(text)
    for f in everyday_facts(text):
        key = _persona_key(f.relation.split(":")[0], f.noun)
        if key is None or any(s.span[0] < f.span[1] and f.span[0] < s.span[1] for s in slots):
            continue
        slots.append(Slot("user", SLOT_NAMES.get(key, key), f.value, f.span))
    return sorted(slots, key=lambda s: s.span)


def echoed_slots(text: str) -> list[Slot]:
    """Facts about the user that `text` states in the second person ("Your dog is called Bonbon."): an
    assistant's echo. Spans refer to the rewritten text; use them for relation and value only."""
    rewritten = text
    for pattern, first_person in _ECHO:
        rewritten = pattern.sub(first_person, rewritten)
    return fact_slots(rewritten) if rewritten != text else []


def fact_questions(fact: StatedFact, split: str, n: int, seed: str) -> list[str]:
    """Up to `n` different questions asking for `fact` in phrasings of `split` ("train" or "heldout")."""
    if split not in (TRAIN, HELDOUT):
        raise ValueError(f"split must be {TRAIN!r} or {HELDOUT!r}")
    pool = (
        question_templates(fact.relation, split)
        if ":" not in fact.relation and fact.relation != "purchase"
        else templates("question", fact.kind, split)
    )
    rng = random.Random(hashlib.sha256(f"{seed}|{fact.relation}|{fact.value}|{split}".encode()).hexdigest())
    chosen = rng.sample(list(pool), min(n, len(pool)))
    return [render(t.text, "", noun=fact.noun) for t in chosen]
