"""Probes that need no model: cloze prompts cut before an answer span, and question/answer pairs.

Cloze: from "My sister is called Ana." the prompt is "User: My sister is called" and the target " Ana"
(the target keeps its leading space, the way world-vocabulary tokens carry it). The tuner and the gates
score a cloze probe by the model's continuation of the prompt with no other context.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from world import compose
from world.facts import find_span, relation
from world.templates import TRAIN, pick_noun, render, render_answer, statement_templates

_ROLE_PREFIX = "User: "


@dataclass(frozen=True)
class ClozeProbe:
    prompt: str
    target: str
    answer: str
    relation: str | None = None
    template_id: str | None = None


@dataclass(frozen=True)
class QAProbe:
    question: str
    answer: str  # the bare value, for scoring
    reply: str  # an assistant-style reply stating it
    relation: str
    template_id: str
    split: str


def cloze_probe(
    statement: str,
    answer: str,
    *,
    role_prefix: str = _ROLE_PREFIX,
    relation: str | None = None,
    min_prefix_words: int = 2,
) -> ClozeProbe | None:
    """A prompt ending right before the first whole-word occurrence of `answer` in `statement`.

    None when the answer is missing or has fewer than `min_prefix_words` words before it (a prompt of
    "User:" alone says nothing about which fact is asked).
    """
    span = find_span(statement, answer)
    if span is None:
        return None
    prefix = statement[: span[0]].rstrip()
    if len(prefix.split()) < min_prefix_words:
        return None
    return ClozeProbe(role_prefix + prefix, statement[len(prefix) : span[1]], answer, relation)


def cloze_probes(
    facts: Mapping[str, str], *, seed: int = 0, per_fact: int = 1, split: str = TRAIN
) -> list[ClozeProbe]:
    """Cloze probes for {relation: value}, from statement templates of `split` that put the value late
    enough in the sentence to be a fair completion."""
    rng = random.Random(f"sleepd-cloze/{seed}")
    guard = compose.ValueGuard(facts.values())
    probes: list[ClozeProbe] = []
    for key, value in facts.items():
        rel = relation(key)
        templates = list(statement_templates(key, split))
        rng.shuffle(templates)
        made = 0
        for t in templates:
            text = render(t.text, value, noun=pick_noun(rng, rel))
            if not guard.clean(text, allowed=(value,)):
                continue
            probe = cloze_probe(text, value, relation=key)
            if probe is not None:
                probes.append(ClozeProbe(probe.prompt, probe.target, value, key, t.id))
                made += 1
                if made == per_fact:
                    break
    return probes


def qa_probe_pairs(
    facts: Mapping[str, str], *, seed: int = 0, per_fact: int = 2, split: str = TRAIN
) -> list[QAProbe]:
    """(question, answer) pairs for {relation: value} from question templates of `split` (default
    "train": what the tuner's self-study may use; never ask it for "heldout")."""
    rng = random.Random(f"sleepd-qa/{seed}")
    guard = compose.ValueGuard(facts.values())
    probes: list[QAProbe] = []
    for key, value in facts.items():
        rel = relation(key)
        used: list[str] = []
        for _ in range(per_fact):
            q = compose.question(rng, rel, split=split, guard=guard, exclude=used)
            assert q.template is not None
            used.append(q.template.id)
            reply = render_answer(rng, rel, value, q.noun)
            probes.append(QAProbe(q.text, value, reply, key, q.template.id, q.template.split))
    return probes
