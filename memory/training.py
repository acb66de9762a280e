"""What a night tunes on, read from the memory bank: tonight's items with their probes, a replay sample
of earlier ones, and every (relation, noun) the bank states (negative questions steer around those).

    inputs = training_set(session, cycle_id)     # TrainingInputs: items, replay, rebuild, held

Only *active* items appear: superseded items are history and are never replayed as true; forgotten items
and their probes never appear anywhere; deferred items wait for a night with room (reflection takes them
up). With `rebuild` (memory/forget.py: after a forget), every active item is tuned from the base state.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from memory import bank as membank
from memory.forget import rebuild_pending
from memory.schema import Memory, Probe


@dataclass(frozen=True)
class TrainingProbe:
    probe_id: int
    kind: str  # "cloze" | "qa"
    prompt: str  # cloze: "User: ..." transcript prefix; qa: the user's question
    answer: str  # the bare answer
    split: str
    target: str  # what the model should produce: " Lisbon" (cloze) or an assistant reply (qa)


@dataclass(frozen=True)
class TrainingItem:
    memory_id: int
    text: str
    subject: str | None
    relation: str | None
    value: str | None
    source_message_ids: tuple[str, ...]
    cycle_id: int | None
    probes: tuple[TrainingProbe, ...] = ()
    facts: tuple[dict[str, Any], ...] = ()  # stated facts: relation, kind, noun, value (, learnable)


@dataclass
class TrainingInputs:
    """What a cycle tunes on. With `rebuild`, `items` is the whole active bank and `replay` is empty.

    `held` is every (relation, noun) the active bank states: negative questions never ask about those."""

    items: list[TrainingItem]
    replay: list[TrainingItem]
    rebuild: bool
    notes: list[str] = field(default_factory=list)
    held: list[tuple[str, str]] = field(default_factory=list)

    def all_texts(self) -> list[str]:
        """Every string that can reach training (for audits such as the secrets check)."""
        out: list[str] = []
        for it in self.items + self.replay:
            out.append(it.text)
            for p in it.probes:
                out += [p.prompt, p.answer, p.target]
        return out


def _target(probe: Probe) -> str:
    """What the model should say: the value after a cloze prompt; for a question, the value as a sentence
    (a placeholder: the tuner's teacher writes the reply it trains on, tuner/verify.py)."""
    if probe.kind == "cloze":
        return probe.answer if probe.prompt.endswith((" ", "\n")) else " " + probe.answer
    return probe.answer.rstrip(".") + "."


def training_items(
    session: Session,
    *,
    cycle_id: int | None = None,
    split: str | None = "train",
    memory_ids: Sequence[int] | None = None,
) -> list[TrainingItem]:
    """Active items (never superseded, never forgotten) with their active probes of `split` (None: all).

    `cycle_id` limits to the items that cycle created."""
    q = select(Memory).where(Memory.status == "active")
    if cycle_id is not None:
        q = q.where(Memory.created_cycle_id == cycle_id)
    if memory_ids is not None:
        q = q.where(Memory.id.in_(list(memory_ids)))
    mems = list(session.scalars(q.order_by(Memory.id)))
    probes = membank.list_probes(session, memory_ids=[m.id for m in mems], status="active", split=split)
    by_mem: dict[int, list[Probe]] = {}
    for p in probes:
        by_mem.setdefault(p.memory_id, []).append(p)
    out = []
    for m in mems:
        tps = tuple(
            TrainingProbe(p.id, p.kind, p.prompt, p.answer, p.split, _target(p)) for p in by_mem.get(m.id, [])
        )
        out.append(
            TrainingItem(
                m.id,
                m.text,
                m.subject,
                m.relation,
                m.value,
                tuple(m.source_message_ids or ()),
                m.created_cycle_id,
                tps,
                tuple(m.facts or ()),
            )
        )
    return out


def replay_sample(
    items: Sequence[TrainingItem], k: int, *, seed: int = 0, exclude_cycle_id: int | None = None
) -> list[TrainingItem]:
    """Up to `k` items for replay, excluding tonight's; deterministic for a seed, in memory-id order."""
    pool = [it for it in items if exclude_cycle_id is None or it.cycle_id != exclude_cycle_id]
    if k >= len(pool):
        return list(pool)
    chosen = random.Random(seed).sample(pool, k)
    return sorted(chosen, key=lambda it: it.memory_id)


def training_set(
    session: Session,
    cycle_id: int,
    *,
    replay_k: int = 64,
    seed: int = 0,
    rebuild: bool | None = None,
    split: str | None = "train",
) -> TrainingInputs:
    """The tuner's inputs for a cycle. `rebuild` None: whatever `rebuild_pending` says.

    Warm (no rebuild): tonight's items plus a replay sample of earlier active items.
    Rebuild: every active item, to be tuned from the base state (nothing forgotten can come back)."""
    if rebuild is None:
        rebuild = rebuild_pending(session)
    everything = training_items(session, split=split)
    held = list(dict.fromkeys((f["relation"], f["noun"]) for it in everything for f in it.facts))
    if rebuild:
        note = ["rebuild: every active memory, from the base state"]
        return TrainingInputs(everything, [], True, note, held)
    tonight = [it for it in everything if it.cycle_id == cycle_id]
    earlier = [it for it in everything if it.cycle_id != cycle_id]
    replay = replay_sample(earlier, replay_k, seed=seed)
    return TrainingInputs(tonight, replay, False, held=held)


def eval_probes(session: Session, *, split: str | None = "eval") -> list[tuple[Probe, Memory]]:
    """Active probes of active items (superseded items' probes ask for an old value: never scored)."""
    q = (
        select(Probe, Memory)
        .join(Memory, Memory.id == Probe.memory_id)
        .where(Probe.status == "active", Memory.status == "active")
    )
    if split is not None:
        q = q.where(Probe.split == split)
    return [(row[0], row[1]) for row in session.execute(q.order_by(Probe.id)).all()]
