"""Templates with a fixed train/heldout split, and rendering.

The split is decided per *family*, not per template: templates of one role and kind whose normalised texts
contain one another ("What's my hobby?" inside "Remind me, what's my hobby?") form a family, and the whole
family goes to one split. Otherwise a held-out question would be a substring of a training one and not a
new phrasing at all. The family's split is a SHA-256 threshold on its shortest member's text, not a
position in a list, so adding an unrelated template never moves others across the split.

- "train" templates may be used by pretraining (`pretrain_data`), by the tuner's self-study and for the
  in-conversation questions of the world.
- "heldout" templates are used only to ask evaluation questions, so acquisition is scored on phrasings
  the system never trained on.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from dataclasses import dataclass

from world import everyday, phrasings
from world.facts import KINDS, Relation, relation

TRAIN = "train"
HELDOUT = "heldout"
SPLITS = (TRAIN, HELDOUT)
# Share of templates held out. With about 34 per kind this leaves roughly 8 held out and 26 for training.
HELDOUT_PERCENT = 25

ROLES = ("statement", "question", "update")


@dataclass(frozen=True)
class Template:
    """One phrasing. id is stable across versions as long as the text is unchanged."""

    id: str
    role: str
    kind: str
    text: str
    split: str


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, single spaces: the form in which containment is checked."""
    return " ".join(re.sub(r"[^a-z0-9{}_]+", " ", text.lower()).split())


def _hash_split(role: str, kind: str, text: str) -> str:
    digest = hashlib.sha256(f"{role}|{kind}|{text}".encode()).digest()
    return HELDOUT if int.from_bytes(digest[:4], "big") % 100 < HELDOUT_PERCENT else TRAIN


def _families(texts: tuple[str, ...]) -> list[int]:
    """Index of each text's family root (union-find over normalised containment)."""
    norm = [f" {normalise(t)} " for t in texts]
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(texts)):
        for j in range(len(texts)):
            if i != j and norm[i] in norm[j]:
                parent[find(i)] = find(j)
    # The root that names a family is its shortest member (ties: alphabetical), whatever union order did.
    members: dict[int, list[int]] = {}
    for i in range(len(texts)):
        members.setdefault(find(i), []).append(i)
    root_of = [0] * len(texts)
    for group in members.values():
        root = min(group, key=lambda k: (len(norm[k]), norm[k]))
        for k in group:
            root_of[k] = root
    return root_of


@functools.cache
def _all(role: str, kind: str) -> tuple[Template, ...]:
    source = {
        "statement": {**phrasings.STATEMENTS, **everyday.STATEMENTS},
        "question": {
            **phrasings.QUESTIONS,
            **everyday.QUESTIONS,
            **{f"rel:{k}": v for k, v in phrasings.RELATION_QUESTIONS.items()},
        },
        "update": phrasings.UPDATES,
    }
    if role not in source:
        raise ValueError(f"unknown template role {role!r}")
    texts = source[role].get(kind)
    if texts is None:
        raise ValueError(f"no {role} templates for kind {kind!r}")
    roots = _families(texts)
    out = []
    for text, root in zip(texts, roots, strict=True):
        digest = hashlib.sha256(f"{role}|{kind}|{text}".encode()).hexdigest()[:10]
        split = _hash_split(role, kind, texts[root])
        out.append(Template(f"{role}/{kind}/{digest}", role, kind, text, split))
    return tuple(out)


def template_split(role: str, kind: str, text: str) -> str:
    """The split of an existing template (ValueError if there is no such template)."""
    for t in _all(role, kind):
        if t.text == text:
            return t.split
    raise ValueError(f"no {role} template of kind {kind!r} with text {text!r}")


def _check_split(split: str | None) -> None:
    if split not in (None, TRAIN, HELDOUT, "all"):
        raise ValueError(f"split must be 'train', 'heldout' or 'all', got {split!r}")


def templates(role: str, kind: str, split: str | None = None) -> tuple[Template, ...]:
    """All templates of a role ("statement", "question", "update") and kind; split None/"all" = both."""
    _check_split(split)
    found = _all(role, kind)
    return found if split in (None, "all") else tuple(t for t in found if t.split == split)


def update_kind(rel: Relation) -> str:
    return rel.key if rel.key in phrasings.UPDATES else rel.kind


def statement_templates(relation_key: str, split: str | None = None) -> tuple[Template, ...]:
    return templates("statement", relation(relation_key).kind, split)


def question_templates(relation_key: str, split: str | None = None) -> tuple[Template, ...]:
    """The kind's question templates, and those of the relation's own words ("Who do I report to?")."""
    own = (
        templates("question", f"rel:{relation_key}", split)
        if relation_key in phrasings.RELATION_QUESTIONS
        else ()
    )
    return templates("question", relation(relation_key).kind, split) + own


def update_templates(relation_key: str, split: str | None = None) -> tuple[Template, ...]:
    rel = relation(relation_key)
    if not rel.mutable:
        raise ValueError(f"relation {relation_key!r} is not mutable")
    return templates("update", update_kind(rel), split)


def all_templates() -> tuple[Template, ...]:
    """Every statement, question and update template (for tests and reports)."""
    found: list[Template] = []
    for kind in KINDS:
        found += _all("statement", kind) + _all("question", kind)
    for kind in phrasings.UPDATES:
        found += _all("update", kind)
    for key in phrasings.RELATION_QUESTIONS:
        found += _all("question", f"rel:{key}")
    for kind in everyday.QUESTIONS:
        found += _all("statement", kind) + _all("question", kind)
    return tuple(found)


_VOWEL_SOUND_ACRONYM = set("AEFHILMNORSX")  # letters whose spoken name starts with a vowel ("an HR ...")


def article(word: str) -> str:
    """'a' or 'an' for a value, by its sound as well as we can tell from spelling."""
    first = word.split()[0]
    if len(first) >= 2 and first[:2].isupper():  # acronym: "an HR manager", "a UX designer"
        return "an" if first[0] in _VOWEL_SOUND_ACRONYM else "a"
    lower = first.lower()
    if lower.startswith(("uni", "use", "uku", "eu", "one")):
        return "a"
    if lower.startswith(("hour", "honest")):
        return "an"
    return "an" if lower[:1] in "aeiou" else "a"


def plural(noun: str) -> str:
    return noun + "es" if noun.endswith(("s", "sh", "ch", "x")) else noun + "s"


_SLOT_RE = re.compile(r"\{(X|a_X|old|a_old|noun|nouns)\}")


def render(text: str, value: str, *, noun: str = "", old: str | None = None) -> str:
    """Fill a template's slots and capitalise the first letter of the message."""

    def fill(match: re.Match[str]) -> str:
        slot = match.group(1)
        if slot in ("old", "a_old") and old is None:
            raise ValueError(f"template needs {{old}} but no old value was given: {text!r}")
        if slot == "X":
            return value
        if slot == "a_X":
            return f"{article(value)} {value}"
        if slot == "old":
            return old or ""
        if slot == "a_old":
            return f"{article(old or '')} {old}"
        return noun if slot == "noun" else plural(noun)

    return capitalise_sentences(_SLOT_RE.sub(fill, text))


_SENTENCE_START_RE = re.compile(r"(^|[.!?]\s+)([a-z])")


def capitalise_sentences(text: str) -> str:
    """Upper-case the first letter of every sentence ("Tastes change! Canoeing is ...")."""
    return _SENTENCE_START_RE.sub(lambda m: m.group(1) + m.group(2).upper(), text)


def pick_noun(rng: random.Random, rel: Relation) -> str:
    return rng.choice(rel.nouns)


def render_answer(rng: random.Random, rel: Relation, value: str, noun: str | None = None) -> str:
    """An assistant reply stating the value (first sentence contains it)."""
    return render_kind_answer(rng, rel.kind, value, noun or rel.nouns[0])


def render_kind_answer(rng: random.Random, kind: str, value: str, noun: str) -> str:
    """An assistant reply stating the value, for a template kind (persona or everyday)."""
    text = rng.choice({**phrasings.ANSWERS, **everyday.ANSWERS}[kind])
    return render(text, value, noun=noun)


def render_ack(rng: random.Random, rel: Relation, value: str, noun: str, *, echo_prob: float = 0.4) -> str:
    """An assistant acknowledgement of a statement; sometimes it echoes the value."""
    if rng.random() < echo_prob:
        return render(rng.choice(phrasings.KIND_ACKS[rel.kind]), value, noun=noun)
    return rng.choice(phrasings.GENERIC_ACKS)


def render_everyday_ack(rng: random.Random, fact: everyday.EverydayFact, *, echo_prob: float = 0.4) -> str:
    """An acknowledgement of an everyday fact; sometimes it echoes the value."""
    kind_acks = {**phrasings.KIND_ACKS, **everyday.KIND_ACKS}.get(fact.template_kind, ())
    if kind_acks and rng.random() < echo_prob:
        return render(rng.choice(kind_acks), fact.value, noun=fact.noun)
    return rng.choice(phrasings.GENERIC_ACKS)


def render_update_ack(rng: random.Random, rel: Relation, value: str, old: str, noun: str) -> str:
    specific = phrasings.UPDATE_ACKS.get(rel.key) or phrasings.UPDATE_ACKS.get(rel.kind, ())
    if specific and rng.random() < 0.6:
        return render(rng.choice(specific), value, noun=noun, old=old)
    return rng.choice(phrasings.GENERIC_UPDATE_ACKS)
