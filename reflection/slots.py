"""Slot extraction for supersede: (subject, relation, value) triples for common personal facts.

"We moved to Lisbon" after "I live in Oslo" must replace the city, not sit beside it (mem0#4536, PR #2709:
a changed preference is an update that keeps history). Reflection compares tonight's slots with the memory
bank's; a new value for a *functional* relation (one value at a time: city, employer, partner, favourite
food) supersedes the old one. Relations that can hold several values (friend, sister, dog) are marked
`functional=False`, so a second friend does not overwrite the first.

A small pattern grammar over first-person statements, several phrasings per relation. It prefers silence to
guessing: questions, negations, hypotheticals and past habits ("I used to live in Oslo", "if I moved to
Lisbon", "I don't work at Acme") give nothing, values must have the right shape (a capitalised name for a
city, employer or person; a known job word after "I'm a"), and a relation that gets two different values in
one text is dropped as ambiguous.

`span` is the value's (start, end) in the input text: what a cloze probe masks. Input is redacted text; a
redaction mask is never a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Slot:
    subject: str
    relation: str
    value: str
    span: tuple[int, int]
    functional: bool = True  # one value at a time: a new value supersedes the old one


# Relations that can legitimately hold several values at once.
MULTI_VALUED = frozenset(
    {"friend", "sister", "brother", "son", "daughter", "child", "cousin", "aunt", "uncle", "colleague"}
    | {"dog", "cat", "rabbit", "hamster", "bird", "fish", "turtle", "horse", "guinea_pig", "pet"}
)

_KIN = {
    "sister": "sister",
    "brother": "brother",
    "mom": "mother",
    "mum": "mother",
    "mother": "mother",
    "dad": "father",
    "father": "father",
    "son": "son",
    "daughter": "daughter",
    "wife": "partner",
    "husband": "partner",
    "partner": "partner",
    "spouse": "partner",
    "girlfriend": "partner",
    "boyfriend": "partner",
    "fiance": "partner",
    "fiancé": "partner",
    "fiancee": "partner",
    "fiancée": "partner",
    "best friend": "best_friend",
    "friend": "friend",
    "boss": "boss",
    "manager": "boss",
    "roommate": "roommate",
    "flatmate": "roommate",
    "cousin": "cousin",
    "aunt": "aunt",
    "uncle": "uncle",
    "grandma": "grandmother",
    "grandmother": "grandmother",
    "grandpa": "grandfather",
    "grandfather": "grandfather",
    "colleague": "colleague",
    "coworker": "colleague",
    "therapist": "therapist",
    "doctor": "doctor",
}
_PETS = {
    "dog": "dog",
    "puppy": "dog",
    "pup": "dog",
    "cat": "cat",
    "kitten": "cat",
    "kitty": "cat",
    "rabbit": "rabbit",
    "bunny": "rabbit",
    "hamster": "hamster",
    "parrot": "bird",
    "bird": "bird",
    "fish": "fish",
    "turtle": "turtle",
    "horse": "horse",
    "guinea pig": "guinea_pig",
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_JOBS = _words(
    """
    accountant actor actress analyst architect artist assistant attorney baker barista bartender biologist
    carpenter cashier chef chemist cleaner coach consultant cook counselor counsellor dancer dentist designer
    developer doctor driver economist editor electrician engineer farmer firefighter journalist judge lawyer
    lecturer librarian manager mechanic musician nurse officer paralegal paramedic pharmacist photographer
    physician physicist physiotherapist pilot plumber police policeman policewoman producer professor
    programmer psychologist receptionist researcher salesman saleswoman scientist secretary singer
    student surgeon teacher technician therapist translator tutor veterinarian vet waiter waitress writer
    author freelancer entrepreneur founder ceo cto nanny caregiver carer paramedic soldier sailor
    """
)

# A proper noun phrase: capitalised words, with the lowercase connectors place and company names use.
_CONNECTOR = r"(?:de|da|do|del|della|la|le|of|upon|on|am|im|and|&)"
_PROPER = r"(?:[A-Z][\w'’.&-]*)(?:\s+(?:" + _CONNECTOR + r"\s+)?[A-Z][\w'’.&-]*){0,4}"
_PERSON = r"[A-Z][a-zà-ÿ'’-]+(?:\s+[A-Z][a-zà-ÿ'’-]+)?"
# The speaker as subject; "and" for an elided one ("I live in Oslo and moved to Lisbon" must see both).
_I = r"(?i:\b(?:(?:i|we)(?:'m|'ve|\s+am|\s+are|'re|\s+have)?|and))"
_ADV = r"(?i:(?:\s+(?:just|recently|finally|now|also|currently|officially|actually))*)"
_KIN_WORDS = "|".join(sorted((re.escape(k) for k in _KIN), key=len, reverse=True))
_PET_WORDS = "|".join(sorted((re.escape(k) for k in _PETS), key=len, reverse=True))
_NAMED = r"(?i:(?:'s\s+name\s+is|s\s+name\s+is|\s+is\s+called|\s+is\s+named|'s\s+called|\s+is)\s+)"
# A phrase of up to n+1 words ending before a preposition or punctuation ("registered nurse| at ...").
_NP_END = r")(?=\s+(?:at|for|in|with|and|since|by)\b|[.,;!?]|$)"


def _np(n: int) -> str:
    return r"(?P<value>[A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*){0," + str(n) + "}?" + _NP_END


# Clause-level vetoes: what comes before the trigger in the same clause.
_VETO = re.compile(
    r"\b(?i:not|never|no\s+longer|used\s+to|would|if|might|maybe|could|should|wish|want(?:s|ed)?\s+to|"
    r"hope\s+to|hoping\s+to|plan(?:ning)?\s+to|going\s+to|gonna|thinking\s+(?:about|of)|considering|"
    r"dream(?:ing)?\s+of|someday|one\s+day|pretend|imagine|suppose)\b|\bmay\b|n't\b"  # "May" is a month
)
_TRAILING = re.compile(r"(?i)\s+(?:now|too|though|lately|anymore|again|then|here|there|today|yet)$")
_CLAUSE_END = re.compile(r"[.!?;\n]+")
_ABBREV = re.compile(r"(?:^|\W)(?:St|Mt|Ft|Dr|Mr|Mrs|Ms|Jr|Sr|Inc|Co|Ltd|Corp|Ave|Rd|vs|etc)\.$")


@dataclass(frozen=True)
class _Rule:
    relation: str | Callable[[re.Match[str]], str]
    pattern: re.Pattern[str]
    check: Callable[[str], bool]
    proper: bool  # the value is a name: never a pronoun, weekday or month


def _rule(
    relation: str | Callable[[re.Match[str]], str],
    *parts: str,
    check: Callable[[str], bool] = lambda v: True,
    proper: bool = True,
) -> _Rule:
    return _Rule(relation, re.compile("".join(parts)), check, proper)


def _kin(m: re.Match[str]) -> str:
    return _KIN[m.group("kin").lower()]


def _pet(m: re.Match[str]) -> str:
    return _PETS[m.group("pet").lower()]


def _is_job(value: str) -> bool:
    words = value.lower().split()
    return 0 < len(words) <= 3 and words[-1] in _JOBS


def _short_phrase(value: str) -> bool:
    return 0 < len(value.split()) <= 6


def _is_age(value: str) -> bool:
    return 0 < int(value) < 120


def _favourite(m: re.Match[str]) -> str:
    thing = m.group("thing").lower().replace("color", "colour").replace("film", "movie")
    return "favourite_" + re.sub(r"\W+", "_", thing).strip("_")


_CITY = rf"(?:the\s+)?(?P<value>{_PROPER})"
_ORG = rf"(?:the\s+)?(?P<value>{_PROPER})"
_WHO = rf"(?P<value>{_PERSON})\b"
_JOB_VERB = (
    r"(?i:\s+(?:work|working|employed|started\s+(?:a\s+new\s+job|working)|got\s+a\s+(?:new\s+)?job"
    r"|took\s+a\s+(?:new\s+)?job|accepted\s+(?:a|an)\s+(?:\w+\s+)?(?:job|offer|position)))"
)

_RULES: list[_Rule] = [
    # city: "I live in Oslo", "we moved to Lisbon", "I'm now based in X", "my new home is X"
    _rule("city", _I, _ADV, r"(?i:\s+(?:live|living|moved|relocated|settled|based)\s+(?:in|to|down\s+in))\s+",
          _CITY),
    _rule("city", r"(?i:\bmy\s+(?:new\s+)?(?:home|city)\s+is)\s+", _CITY),
    _rule("hometown", _I, r"(?i:\s+(?:originally\s+)?from)\s+", _CITY),
    _rule("hometown", r"(?i:\bi\s+grew\s+up\s+in)\s+", _CITY),
    # employer: "I work at/for X", "I started a new job at X", "I joined X", "my employer is X"
    _rule("employer", _I, _ADV, _JOB_VERB, r"(?i:\s+(?:at|for|with|by))\s+", _ORG),
    _rule("employer", _I, _ADV, r"(?i:\s+joined)\s+", _ORG),
    _rule("employer", r"(?i:\bmy\s+(?:new\s+)?(?:employer|company)\s+is)\s+", _ORG),
    _rule("employer", r"(?i:\bmy\s+new\s+job\s+at)\s+", _ORG),
    # job title: "I work as a nurse", "I work at X as a Y", "I'm a nurse", "I became a teacher"
    _rule("job_title", _I, _ADV, r"(?i:\s+(?:work|working|started\s+working|employed)\s+as\s+(?:an?\s+)?)",
          _np(3), check=_short_phrase, proper=False),
    _rule("job_title", r"(?i:\b(?:i|we)\s+work\s+(?:at|for)\s+)[^,.;!?]*?(?i:\s+as\s+an?\s+)", _np(3),
          check=_short_phrase, proper=False),
    _rule("job_title", r"(?i:\b(?:i'm|i\s+am)(?:\s+(?:now|currently|actually|also))?\s+an?\s+)", _np(2),
          check=_is_job, proper=False),
    _rule("job_title", r"(?i:\b(?:i\s+(?:just\s+)?became|i\s+got\s+promoted\s+to"
          r"|my\s+(?:job|job\s+title|role)\s+is)\s+(?:an?\s+)?)", _np(2), check=_is_job, proper=False),
    # people: "my sister('s name) is (called) Ana", "my sister, Ana,", "my brother Tom", "a son named X"
    _rule(_kin, rf"(?i:\b(?:my|our)\s+(?P<kin>{_KIN_WORDS}))", _NAMED, _WHO),
    _rule(_kin, rf"(?i:\b(?:my|our)\s+(?P<kin>{_KIN_WORDS})),?\s+", _WHO),
    _rule(_kin, rf"(?i:\b(?:i|we)\s+have\s+an?\s+(?P<kin>{_KIN_WORDS})\s+(?:named|called))\s+", _WHO),
    # pets: "my dog is named Rex", "our cat Milo", "we adopted a puppy called Luna"
    _rule(_pet, rf"(?i:\b(?:my|our)\s+(?P<pet>{_PET_WORDS}))", _NAMED, _WHO),
    _rule(_pet, rf"(?i:\b(?:my|our)\s+(?P<pet>{_PET_WORDS})),?\s+", _WHO),
    _rule(_pet, r"(?i:\b(?:i|we)(?:'ve|\s+have)?\s+(?:just\s+)?(?:have|has|got|adopted|rescued|bought)"
          rf"\s+an?\s+(?:new\s+)?(?:\w+\s+)?(?P<pet>{_PET_WORDS})\s+(?:named|called))\s+", _WHO),
    # favourites: "my favourite food is sushi", "my fave band is X"
    _rule(_favourite, r"(?i:\bmy\s+(?:all-time\s+)?(?:favou?rite|fave|fav)\s+(?P<thing>[a-z]+(?:\s+[a-z]+)?)"
          r"\s+(?:is|are|would\s+be)\s+)(?P<value>[^.,;!?\n]+)", check=_short_phrase, proper=False),
    # identity: "my name is Sam", "call me Sam", "I'm 34 (years old)"
    _rule("name", r"(?i:\b(?:my\s+name\s+is|(?:you\s+can\s+)?call\s+me|i\s+go\s+by))\s+", _WHO),
    _rule("age", r"(?i:\b(?:i'm|i\s+am|i\s+just\s+turned|i\s+turned)\s+)(?P<value>\d{1,3})"
          r"(?=\s*(?:years?\s+old|yo)\b|\s*[.,;!]|$)", check=_is_age, proper=False),
]  # fmt: skip

_NOT_NAMES = _words(
    "I Me My We Our You He She They It This That There The A An And But So Yes No Oh Hey Hi Thanks God Lord "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July "
    "August September October November December Christmas Easter Today Tomorrow Yesterday"
)


def _clauses(text: str) -> list[tuple[int, str]]:
    """(offset, clause) pieces split at . ! ? ; and newlines, but not after "St." or "Dr."."""
    out, start = [], 0
    for m in _CLAUSE_END.finditer(text):
        if m.group(0) == "." and _ABBREV.search(text[max(0, m.start() - 6) : m.end()]):
            continue
        out.append((start, text[start : m.end()]))
        start = m.end()
    if start < len(text):
        out.append((start, text[start:]))
    return out


def rule_matches(text: str, rules: Sequence[Any]) -> Iterator[tuple[int, Any, re.Match[str]]]:
    """(clause offset, rule, match) for every match of `rules` (each with a `pattern` naming a "value"
    group) in the statements of `text`: questions and vetoed matches ("my friend's sister") are skipped."""
    for offset, body in _clauses(text):
        if body.rstrip().endswith("?"):
            continue
        for rule in rules:
            for m in rule.pattern.finditer(body):
                if not _VETO.search(body, 0, m.start("value")):
                    yield offset, rule, m


def _clean(value: str) -> str:
    value = value.strip(" \t'\"“”‘’").rstrip(".,")
    while True:
        trimmed = _TRAILING.sub("", value)
        if trimmed == value:
            break
        value = trimmed
    # A proper phrase must not end on a connector ("Bank of" from "Bank of. ...").
    return re.sub(r"\s+(?:de|da|do|del|della|la|le|of|upon|on|am|im|and|&)$", "", value)


def extract_slots(text: str) -> list[Slot]:
    """(subject, relation, value, span) triples stated by the speaker about themselves; [] when unsure."""
    found: dict[str, list[Slot]] = {}
    for offset, rule, m in rule_matches(text, _RULES):
        raw = m.group("value")
        value = _clean(raw)
        if not value or "[REDACTED" in value or not rule.check(value):
            continue
        if rule.proper and value.split()[0] in _NOT_NAMES:
            continue
        relation = rule.relation(m) if callable(rule.relation) else rule.relation
        start = offset + m.start("value") + raw.index(value)
        found.setdefault(relation, []).append(
            Slot("user", relation, value, (start, start + len(value)), relation not in MULTI_VALUED)
        )
    out: list[Slot] = []
    for relation, slots in found.items():
        first: dict[str, Slot] = {}
        for slot in sorted(slots, key=lambda s: s.span):
            first.setdefault(slot.value.lower(), slot)
        if len(first) > 1 and relation not in MULTI_VALUED:
            continue  # two different values for a one-value relation in one text: unsure
        out.extend(first.values())
    # One span, one slot: when extractions overlap (a word read by two rules), keep the earlier, longer one.
    out.sort(key=lambda s: (s.span[0], -s.span[1]))
    result: list[Slot] = []
    for slot in out:
        if not result or slot.span[0] >= result[-1].span[1]:
            result.append(slot)
    from reflection.phrased_slots import with_phrased  # it builds on Slot: imported here, not at the top

    return with_phrased(result, text)
