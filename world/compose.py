"""Turn-level building blocks shared by the world simulator and the pretraining chats.

Every user text goes through a `ValueGuard`: it may mention the values in its own slots and no other
value of the persona. That keeps ground truth clean (a small-talk joke about "orange" never appears in
the chat of a persona whose favourite colour is orange, and a later turn never restates an answer by
accident).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

from world import everyday, phrasings, smalltalk
from world.everyday import EverydayFact
from world.facts import Relation, mentions, sample_value
from world.templates import (
    Template,
    pick_noun,
    question_templates,
    render,
    render_ack,
    statement_templates,
    templates,
    update_templates,
)

_MAX_TRIES = 200


class ValueGuard:
    """Knows all values of a persona; `clean` rejects text mentioning any value not explicitly allowed."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values: tuple[str, ...] = tuple(dict.fromkeys(v for v in values if v.strip()))
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        if value.strip() and value not in self.values:
            self.values += (value,)
            self._pattern = None

    def _regex(self) -> re.Pattern[str]:
        # One alternation over all values (longest first) instead of a search per value: worlds check
        # every text against every value the persona ever has.
        if self._pattern is None:
            spans = sorted(self.values, key=len, reverse=True)
            body = "|".join(r"\s+".join(re.escape(w) for w in v.split()) for v in spans) or "(?!)"
            self._pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{body})(?![A-Za-z0-9])", re.IGNORECASE)
        return self._pattern

    def clean(self, text: str, allowed: Iterable[str | None] = ()) -> bool:
        ok = {" ".join(a.lower().split()) for a in allowed if a}
        return all(" ".join(m.group().lower().split()) in ok for m in self._regex().finditer(text))


@dataclass(frozen=True)
class Rendered:
    """A rendered user text with the template it came from and the {noun} it used."""

    text: str
    template: Template | None
    noun: str


def _pick_fact_text(
    rng: random.Random,
    rel: Relation,
    value: str,
    pool: tuple[Template, ...],
    guard: ValueGuard,
    *,
    old: str | None = None,
    lead_prob: float = 0.0,
) -> Rendered:
    if not pool:
        raise ValueError(f"no templates to state {rel.key!r}")
    for _ in range(_MAX_TRIES):
        template = rng.choice(pool)
        noun = pick_noun(rng, rel)
        text = render(template.text, value, noun=noun, old=old)
        if lead_prob and rng.random() < lead_prob:
            text = f"{rng.choice(phrasings.STATEMENT_LEADS)} {text}"
        if mentions(text, value) and guard.clean(text, allowed=(value, old)):
            return Rendered(text, template, noun)
    raise RuntimeError(f"could not phrase {rel.key}={value!r} without mentioning another persona value")


def statement(
    rng: random.Random, rel: Relation, value: str, *, split: str, guard: ValueGuard, lead_prob: float = 0.0
) -> Rendered:
    """The user stating a fact for the first time."""
    return _pick_fact_text(rng, rel, value, statement_templates(rel.key, split), guard, lead_prob=lead_prob)


def update_statement(
    rng: random.Random,
    rel: Relation,
    value: str,
    old: str,
    *,
    split: str,
    guard: ValueGuard,
    lead_prob: float = 0.0,
) -> Rendered:
    """The user saying a fact changed (may or may not name the old value)."""
    pool = update_templates(rel.key, split)
    return _pick_fact_text(rng, rel, value, pool, guard, old=old, lead_prob=lead_prob)


def question(
    rng: random.Random,
    rel: Relation,
    *,
    split: str,
    guard: ValueGuard,
    exclude: Iterable[str] = (),
    lead: str | None = None,
) -> Rendered:
    """A user question about a relation; `exclude` holds template ids already used for this fact."""
    excluded = set(exclude)
    pool = tuple(t for t in question_templates(rel.key, split) if t.id not in excluded)
    if not pool:
        pool = question_templates(rel.key, split)
    for _ in range(_MAX_TRIES):
        template = rng.choice(pool)
        noun = pick_noun(rng, rel)
        text = render(template.text, "", noun=noun)
        if lead:
            text = f"{lead} {text}"
        if guard.clean(text):
            return Rendered(text, template, noun)
    raise RuntimeError(f"could not ask about {rel.key!r} without mentioning a persona value")


def distractor(rng: random.Random, guard: ValueGuard) -> tuple[str, str, str]:
    """(kind, user, assistant) small talk that mentions no persona value on either side."""
    for _ in range(_MAX_TRIES):
        kind, user, assistant = smalltalk.smalltalk(rng)
        if guard.clean(user) and guard.clean(assistant):
            return kind, user, assistant
    raise RuntimeError("could not find small talk free of persona values")


def opener(rng: random.Random, guard: ValueGuard, *, closing: bool = False) -> tuple[str, str]:
    for _ in range(_MAX_TRIES):
        user, assistant = smalltalk.closing(rng) if closing else smalltalk.greeting(rng)
        if guard.clean(user) and guard.clean(assistant):
            return user, assistant
    raise RuntimeError("could not find a greeting free of persona values")


def everyday_statement(
    rng: random.Random, fact: EverydayFact, *, split: str, guard: ValueGuard, lead_prob: float = 0.0
) -> Rendered:
    """The user stating an everyday fact ("I named my parrot Kasimir.")."""
    pool = templates("statement", fact.template_kind, split)
    for _ in range(_MAX_TRIES):
        template = rng.choice(pool)
        text = render(template.text, fact.value, noun=fact.noun)
        if lead_prob and rng.random() < lead_prob:
            text = f"{rng.choice(phrasings.STATEMENT_LEADS)} {text}"
        if mentions(text, fact.value) and guard.clean(text, allowed=(fact.value,)):
            return Rendered(text, template, fact.noun)
    raise RuntimeError(f"could not phrase {fact.relation}={fact.value!r} without another persona value")


def everyday_question(rng: random.Random, kind: str, noun: str, *, split: str, guard: ValueGuard) -> Rendered:
    """A question about an everyday kind with its noun ("What did I name my parrot?")."""
    pool = templates("question", everyday.template_kind(kind), split)
    for _ in range(_MAX_TRIES):
        template = rng.choice(pool)
        text = render(template.text, "", noun=noun)
        if guard.clean(text):
            return Rendered(text, template, noun)
    raise RuntimeError(f"could not ask about {kind}:{noun} without mentioning a persona value")


@dataclass(frozen=True)
class Override:
    """A chat that states another value for a relation, then asks about it: the chat must win."""

    context: tuple[dict[str, str], ...]  # the user's statement and the assistant's acknowledgement
    question: str
    value: str  # the chat's value: the right answer
    old: str  # the remembered value: a wrong answer


def override_chat(
    rng: random.Random, rel: Relation, old: str, *, split: str, taken: Iterable[str] = ()
) -> Override:
    """The user states a value other than `old` for `rel` (none of `taken` either), then asks."""
    other = sample_value(rng, rel, taken=[old, *taken])
    guard = ValueGuard([other, old])
    said = statement(rng, rel, other, split=split, guard=guard)
    ack = render_ack(rng, rel, other, said.noun)
    asked = question(rng, rel, split=split, guard=guard).text
    context = ({"role": "user", "content": said.text}, {"role": "assistant", "content": ack})
    return Override(context, asked, other, old)
