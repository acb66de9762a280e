"""The material the gates measure, built from the memory bank and the persona world's held-out phrasings.

- tonight / earlier: the "eval" split probes of active memories created by this cycle / by earlier ones
  (reflection writes their phrasings apart from the training ones, so acquisition is scored on questions
  never trained on). Cloze probes are continued as written; QA probes are asked as a chat. A value the
  tuner found *not learnable by this model* (its teacher, with the item in context, never said it) is not
  scored: it is reported instead (`not_learnable`).
- tonight, in context: the same questions with the item in the chat first, from the base model: the
  in-context ceiling acquisition is read against.
- never_taught: questions whose right answer is "I don't know.": near neighbours of every fact the bank
  holds (the brother when the sister is known, where the sister lives when only her name is), then
  relations it holds nothing for, in held-out phrasings: `GateConfig.never_taught_questions` of them
  (fewer only when the persona world runs out of relations the bank does not hold).
  Answers that name a value the bank holds are the binding leak.
- override: for tonight's slot memories, a chat where the user states a *different* value first; the
  model must answer from the chat, not from its memory.
- general: the shipped held-out general-English suite (corpus/heldout).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from corpus import heldout_general_text
from eval.gates import GateConfig, GateSuites
from eval.metrics import Asked
from memory.schema import Memory, Probe
from model.chat_format import MEMORY_ACK, format_messages
from world import compose
from world.facts import WORLD_RELATIONS, relation
from world.neighbours import negative_questions, parse
from world.scoring import ABSTAIN_ANSWER
from world.templates import HELDOUT

GENERAL_CHARS = 60_000


def probe_asked(probe: Probe, memory: Memory | None = None, *, in_context: bool = False) -> Asked:
    """A probe as a question about `memory`; with `in_context`, asked with the memory said first in the chat
    (the ceiling)."""
    context: tuple[dict[str, str], ...] = ()
    if memory is not None and in_context:
        context = ({"role": "user", "content": memory.text}, {"role": "assistant", "content": MEMORY_ACK})
    cycle = memory.created_cycle_id if memory is not None else None
    if probe.kind == "cloze":
        return Asked(format_messages(list(context)) + probe.prompt, probe.answer, raw=True, cycle_id=cycle)
    return Asked(probe.prompt, probe.answer, context=context, cycle_id=cycle)


def learnable(memory: Memory, value: str) -> bool:
    """Whether the tuner's teacher said this value (None marks mean not checked yet: scored)."""
    if memory.learnable is False:
        return False
    return all(not (f.get("value") == value and f.get("learnable") is False) for f in memory.facts or ())


def _eval_probes(session: Session, *, cycle_id: int | None, earlier: bool) -> list[tuple[Probe, Memory]]:
    q = (
        select(Probe, Memory)
        .join(Memory, Memory.id == Probe.memory_id)
        .where(Probe.status == "active", Memory.status == "active", Probe.split == "eval")
    )
    if cycle_id is not None:
        q = (
            q.where(Memory.created_cycle_id != cycle_id)
            if earlier
            else q.where(Memory.created_cycle_id == cycle_id)
        )
    return [(row[0], row[1]) for row in session.execute(q.order_by(Probe.id)).all()]


def bank_values(memories: Iterable[Memory]) -> list[str]:
    """Every value the active bank holds (slot values and stated facts)."""
    values: list[str] = []
    for m in memories:
        if m.value:
            values.append(m.value)
        values += [f["value"] for f in m.facts or () if f.get("value")]
    return list(dict.fromkeys(v for v in values if v.strip()))


def never_taught(
    memories: Sequence[Memory], *, cycle_id: int | None, n: int, near_per_fact: int, seed: int
) -> list[Asked]:
    """`n` held-out questions (fewer only when the world runs out) about nothing the bank holds: near
    neighbours of tonight's facts first, then of earlier ones, then relations the bank holds nothing for."""
    held = [parse(f["relation"], f.get("noun")) for m in memories for f in m.facts or ()]
    held += [parse(WORLD_RELATIONS[m.relation]) for m in memories if m.relation in WORLD_RELATIONS]
    first = [
        parse(f["relation"], f.get("noun"))
        for m in memories
        if m.created_cycle_id == cycle_id
        for f in m.facts or ()
    ]
    order = list(dict.fromkeys(first + held))  # tonight's neighbours first
    negs = negative_questions(
        order, split=HELDOUT, near_per_fact=near_per_fact, free=n, seed=f"never-taught:{seed}",
        exclude=[a.relation for a in held],
    )  # fmt: skip
    return [Asked(q.question, ABSTAIN_ANSWER, abstain=True) for q in negs[:n]]


def override_items(memories: Iterable[Memory], *, seed: int) -> list[Asked]:
    """For each slot memory: the chat states another value, then asks; the chat's value must win."""
    out = []
    for m in memories:
        key = WORLD_RELATIONS.get(m.relation or "")
        if not key or not m.value:
            continue
        o = compose.override_chat(
            random.Random(f"override:{seed}:{m.id}"), relation(key), m.value, split=HELDOUT
        )
        out.append(
            Asked(o.question, o.value, wrong_answers=(o.old,), context=o.context, cycle_id=m.created_cycle_id)
        )
    return out


def gate_suites(
    session: Session, cycle_id: int, *, seed: int = 0, cfg: GateConfig = GateConfig()
) -> GateSuites:
    active = list(session.scalars(select(Memory).where(Memory.status == "active").order_by(Memory.id)))
    tonight_memories = [m for m in active if m.created_cycle_id == cycle_id]
    tonight_pairs = _eval_probes(session, cycle_id=cycle_id, earlier=False)
    earlier_pairs = _eval_probes(session, cycle_id=cycle_id, earlier=True)
    skipped = [
        {"memory_id": m.id, "value": p.answer, "question": p.prompt}
        for p, m in tonight_pairs + earlier_pairs
        if not learnable(m, p.answer)
    ]
    tonight = [(p, m) for p, m in tonight_pairs if learnable(m, p.answer)]
    return GateSuites(
        general_text=heldout_general_text(GENERAL_CHARS),
        tonight=[probe_asked(p, m) for p, m in tonight],
        earlier=[probe_asked(p, m) for p, m in earlier_pairs if learnable(m, p.answer)],
        never_taught=never_taught(
            active,
            cycle_id=cycle_id,
            n=cfg.never_taught_questions,
            near_per_fact=cfg.never_taught_near_per_fact,
            seed=seed,
        ),
        override=override_items(tonight_memories, seed=seed),
        tonight_in_context=[probe_asked(p, m, in_context=True) for p, m in tonight],
        bank_values=bank_values(active),
        not_learnable=skipped,
    )
