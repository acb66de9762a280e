"""The material the gates measure, built from the memory bank and the persona world's held-out phrasings.

- tonight / earlier: the "eval" split probes of active memories created by this cycle / by earlier ones
  (reflection writes their phrasings apart from the training ones, so acquisition is scored on questions
  never trained on). Cloze probes are continued as written; QA probes are asked as a chat.
- never_taught: questions about persona relations the bank holds no active memory for; the right answer
  is "I don't know.".
- override: for tonight's slot memories, a chat where the user states a *different* value first; the
  model must answer from the chat, not from its memory.
- general: the shipped held-out general-English suite (eval/suites/general).
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from eval.gates import GateSuites
from eval.metrics import Asked
from eval.world import compose
from eval.world.facts import RELATIONS, relation, sample_value
from eval.world.scoring import ABSTAIN_ANSWER
from eval.world.templates import HELDOUT, render_ack
from memory.schema import Memory, Probe
from reflection.slots import WORLD_RELATIONS
from tuner.corpus import heldout_general_text

GENERAL_CHARS = 60_000


def probe_asked(probe: Probe) -> Asked:
    if probe.kind == "cloze":
        return Asked(probe.prompt, probe.answer, raw=True)
    return Asked(probe.prompt, probe.answer)


def _eval_probes(session: Session, *, cycle_id: int | None, earlier: bool) -> list[Asked]:
    q = (
        select(Probe)
        .join(Memory, Memory.id == Probe.memory_id)
        .where(Probe.status == "active", Memory.status == "active", Probe.split == "eval")
    )
    if cycle_id is not None:
        q = (
            q.where(Memory.created_cycle_id != cycle_id)
            if earlier
            else q.where(Memory.created_cycle_id == cycle_id)
        )
    return [probe_asked(p) for p in session.scalars(q.order_by(Probe.id))]


def never_taught(session: Session, *, n: int, seed: int) -> list[Asked]:
    """Held-out questions about persona relations with no active memory (any value the model gives is
    invented)."""
    taught = {
        WORLD_RELATIONS.get(r or "")
        for r in session.scalars(select(Memory.relation).where(Memory.status == "active"))
    }
    rng = random.Random(f"never-taught:{seed}")
    free = [r for r in RELATIONS if r.key not in taught]
    rng.shuffle(free)
    guard = compose.ValueGuard(())
    return [
        Asked(compose.question(rng, rel, split=HELDOUT, guard=guard).text, ABSTAIN_ANSWER, abstain=True)
        for rel in free[:n]
    ]


def override_items(memories: Iterable[Memory], *, seed: int) -> list[Asked]:
    """For each slot memory: the chat states another value, then asks; the chat's value must win."""
    out = []
    for m in memories:
        key = WORLD_RELATIONS.get(m.relation or "")
        if not key or not m.value:
            continue
        rel = relation(key)
        rng = random.Random(f"override:{seed}:{m.id}")
        other = sample_value(rng, rel, taken=[m.value])
        guard = compose.ValueGuard([other, m.value])
        said = compose.statement(rng, rel, other, split=HELDOUT, guard=guard)
        ack = render_ack(rng, rel, other, said.noun)
        question = compose.question(rng, rel, split=HELDOUT, guard=guard).text
        context = ({"role": "user", "content": said.text}, {"role": "assistant", "content": ack})
        out.append(Asked(question, other, wrong_answers=(m.value,), context=context))
    return out


def gate_suites(session: Session, cycle_id: int, *, seed: int = 0, never_taught_n: int = 8) -> GateSuites:
    tonight_memories = list(
        session.scalars(select(Memory).where(Memory.status == "active", Memory.created_cycle_id == cycle_id))
    )
    return GateSuites(
        general_text=heldout_general_text(GENERAL_CHARS),
        tonight=_eval_probes(session, cycle_id=cycle_id, earlier=False),
        earlier=_eval_probes(session, cycle_id=cycle_id, earlier=True),
        never_taught=never_taught(session, n=never_taught_n, seed=seed),
        override=override_items(tonight_memories, seed=seed),
    )
