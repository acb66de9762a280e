"""Slots from whole phrasings: the persona world's *training* statement and update templates as patterns.

The slot grammar (slots.py) reads short frames ("my sister is called X", "I live in X"). People also say
"Goodbye Auckland, hello Amsterdam! I just moved.", "Forget burritos; ramen is my favourite food now." or
"I got hired by Northwind Bank.": whole sentences whose frame names the relation and whose wording says
which value is the new one. Each training-split phrasing of the world (world/phrasings.py) becomes one
pattern here: its words literal (any case, any run of spaces), {X} the value, {old} the value it replaces,
{noun} the relation's own words ("mum", "next-door neighbour"). A match gives the relation and the *new*
value, never the old one.

Held-out phrasings are never read: they are what the benchmarks and gates ask and state with, so how much
of them the rules still catch measures how far the rules generalise (tests/reflection/test_phrased_slots.py).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from reflection.slots import MULTI_VALUED, Slot
from world.facts import RELATIONS, SLOT_NAMES, Relation
from world.pools import POOLS
from world.templates import TRAIN, plural, templates, update_kind

# A value the pool writes capitalised (names, places, companies, weekdays) must be capitalised here too;
# other values (foods, hobbies, job titles) are a short phrase that the template's next words end.
_CONNECTOR = r"(?:de|da|do|del|della|la|le|of|upon|on|am|im|and|&)"
_PROPER = r"(?-i:[A-Z][\w'’.&-]*(?:\s+(?:" + _CONNECTOR + r"\s+)?[A-Z0-9][\w'’.&-]*){0,4})"
# A phrase stops before a preposition ("registered nurse| at St Mary's"); "and" only joins ("fish and chips").
_PHRASE = r"[\w'’&-]+(?:\s+(?!(?:at|for|in|with|since|by|from|to|on)\b)[\w'’&-]+){0,4}?"
_OLD = r"[^,.;:!?]+?"
_SINCE = r"(?:\s+(?:now|these\s+days|nowadays|at\s+the\s+moment|again|instead))?"
_SLOT = re.compile(r"\{(X|a_X|old|a_old|noun|nouns)\}")


@dataclass(frozen=True)
class _Phrasing:
    pattern: re.Pattern[str]
    relation: str  # the slot relation name (slots.py's vocabulary; the world's key where slots has none)
    lower: bool  # the relation's values are written in lower case (foods, hobbies, job titles)
    # A phrasing of one or two words besides its slots ("I'm {a_X}.") says too little about what fills it:
    # only a value of the relation's pool counts ("I'm a barista", not "I'm a bit tired").
    known_only: frozenset[str] | None
    update: bool  # an update phrasing: its value replaces the relation's others, even a many-valued one


def _value_shape(rel: Relation) -> str:
    pool = POOLS[rel.pool]
    return _PROPER if all(v[:1].isupper() for v in pool) else _PHRASE


def _pattern(text: str, rel: Relation, noun: str) -> re.Pattern[str]:
    value = _value_shape(rel)
    out: list[str] = []
    pos = 0
    for m in _SLOT.finditer(text):
        out.append(_literal(text[pos : m.start()]))
        slot = m.group(1)
        if slot == "X":
            out.append(f"(?P<value>{value})")
        elif slot == "a_X":
            out.append(rf"(?:an?\s+)(?P<value>{value})")
        elif slot in ("old", "a_old"):
            out.append(_OLD)
        else:
            out.append(re.escape(noun if slot == "noun" else plural(noun)))
        pos = m.end()
    out.append(_literal(text[pos:]))
    body = re.sub(r"(?:\\s\*)?(?:\\[.!?])\??$", "", "".join(out).rstrip())
    # Start at a word; end where the sentence or clause ends, so a phrase value takes every word up to it.
    # A time word may close it ("My gym day is Friday now."): people add one to an update.
    return re.compile(r"(?<![\w'’])" + body + _SINCE + r"(?=\s*(?:[.,;:!?)]|$))", re.I)


def _literal(part: str) -> str:
    """A template's words: any case, any spacing, optional final punctuation (users drop it)."""
    words = [re.escape(w) for w in part.split()]
    joined = r"\s+".join(words)
    lead = r"\s*" if part[:1].isspace() or not part else ""
    trail = r"\s*" if part[-1:].isspace() else ""
    if not words:
        return r"\s*" if part else ""
    joined = re.sub(r"(\\[.!?])$", r"\1?", joined)
    return lead + joined + trail


@functools.cache
def _phrasings() -> tuple[_Phrasing, ...]:
    found: list[_Phrasing] = []
    for rel in RELATIONS:
        kinds = [("statement", rel.kind)]
        if rel.mutable:
            kinds.append(("update", update_kind(rel)))
        slot_name = SLOT_NAMES.get(rel.key, rel.key)
        for role, kind in kinds:
            for t in templates(role, kind, TRAIN):
                nouns = rel.nouns if "{noun" in t.text else rel.nouns[:1]
                for noun in nouns:
                    lower = _value_shape(rel) == _PHRASE
                    words = len(_SLOT.sub(" ", t.text).split())
                    known = frozenset(v.lower() for v in POOLS[rel.pool]) if words < 3 else None
                    pattern = _pattern(t.text, rel, noun)
                    found.append(_Phrasing(pattern, slot_name, lower, known, role == "update"))
    # Longer phrasings first: "my favourite food is now {X}, not {old}" before "my favourite food is {X}".
    found.sort(key=lambda p: -len(p.pattern.pattern))
    return tuple(found)


def phrased_slots(text: str) -> list[Slot]:
    """Slots stated by whole training phrasings in `text`; one per value span, longest phrasing first."""
    return [slot for slot, _ in _phrased(text)]


def _phrased(text: str) -> list[tuple[Slot, bool]]:
    """(slot, whether an update phrasing stated it), in text order."""
    out: list[tuple[Slot, bool]] = []
    taken: list[tuple[int, int]] = []
    for p in _phrasings():
        for m in p.pattern.finditer(text):
            start, end = m.span("value")
            value = text[start:end].strip(" '\"").rstrip(".")
            if p.lower and value[:1].isupper() and value[1:] == value[1:].lower():
                value = value[:1].lower() + value[1:]  # "Pad thai is my favourite food."
            if not value or "[REDACTED" in value or any(s < m.end() and m.start() < e for s, e in taken):
                continue
            if p.known_only is not None and value.lower() not in p.known_only:
                continue
            if _asked(text, m.end()):
                continue  # "So my sister is called Ana?" states nothing
            taken.append(m.span())
            span = (start, start + len(value))
            out.append((Slot("user", p.relation, value, span, p.relation not in MULTI_VALUED), p.update))
    out.sort(key=lambda pair: pair[0].span)
    return out


def _asked(text: str, end: int) -> bool:
    """Whether the sentence a match ends in is a question."""
    stop = re.search(r"[.!?]", text[max(0, end - 1) :])
    return stop is not None and stop.group(0) == "?"


def with_phrased(rule_slots: list[Slot], text: str) -> list[Slot]:
    """The slot grammar's slots, with whole phrasings winning: a phrased one-value relation, or any relation
    an update phrasing names, replaces the grammar's reading of it ("from Thursday to Sunday" is Sunday;
    "our dog Mochi died ... a new dog, Pepper" is Pepper), and no two slots share a span."""
    found = _phrased(text)
    if not found:
        return rule_slots
    phrased = [slot for slot, _ in found]
    replaced = {slot.relation for slot, update in found if slot.functional or update}
    kept = [
        s
        for s in rule_slots
        if s.relation not in replaced
        and not any(s.span[0] < p.span[1] and p.span[0] < s.span[1] for p in phrased)
    ]
    return sorted(kept + phrased, key=lambda s: s.span)
