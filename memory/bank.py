"""The memory bank: kept memory items, their probes, supersede history and forget marks.

A memory item is redacted text (reflection redacts before it gets here) with an optional slot
(`subject`, `relation`, `value`): a newer item with the same subject and relation supersedes the older one
("lives in Paris" → "lives in Berlin"). Nothing here deletes rows:
- `supersede(old, new)` marks the old item superseded and links it to the new one (history stays readable);
- `forget(id)` marks an item and its probes forgotten (`sleepd memories forget`), with an audit event.
Which generation holds which memories is computed in memory/generations.py (`memories_in_generation`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from memory.errors import InputError, NotFound
from memory.events import record_event
from memory.schema import PROBE_KINDS, PROBE_SPLITS, Memory, Probe, utcnow


def add_memory(
    session: Session,
    text: str,
    *,
    subject: str | None = None,
    relation: str | None = None,
    value: str | None = None,
    cycle_id: int | None = None,
    source_message_ids: Sequence[str] = (),
    supersedes: Iterable[int] = (),
    status: str = "active",
    deferred_reason: str | None = None,
    facts: Sequence[dict] = (),
) -> Memory:
    """Store a kept item; `supersedes` lists active items it replaces (marked superseded by it).

    status "deferred": a fact over a night's capacity, stored to be taken up first by the next night
    (`activate_deferred`); it supersedes nothing until then."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("memory text must be a non-empty string")
    if status not in ("active", "deferred"):
        raise InputError(f"a new memory is active or deferred, not {status!r}")
    if status == "deferred" and list(supersedes):
        raise InputError("a deferred memory supersedes nothing until it is taken up")
    mem = Memory(
        text=text,
        subject=subject,
        relation=relation,
        value=value,
        status=status,
        created_cycle_id=cycle_id,
        source_message_ids=list(source_message_ids),
        created_at=utcnow(),
        deferred_reason=deferred_reason if status == "deferred" else None,
        deferred_cycle_id=cycle_id if status == "deferred" else None,
        facts=[dict(f) for f in facts],
    )
    session.add(mem)
    session.flush()
    for old_id in supersedes:
        supersede(session, old_id, mem.id)
    return mem


def activate_deferred(
    session: Session,
    memory_id: int,
    *,
    cycle_id: int | None,
    supersedes: Iterable[int] = (),
    facts: Sequence[dict] | None = None,
) -> Memory:
    """Take a deferred item up: it becomes active as one of `cycle_id`'s memories (that night learns it),
    with an audit event naming the cycle that deferred it."""
    mem = get_memory(session, memory_id)
    if mem.status != "deferred":
        raise InputError(f"memory {memory_id} is {mem.status}, not deferred")
    record_event(
        session,
        "memory.deferred_taken_up",
        actor=f"cycle {cycle_id}" if cycle_id is not None else "reflection",
        cycle_id=cycle_id,
        details={"memory_id": memory_id, "deferred_by_cycle": mem.deferred_cycle_id},
    )
    mem.status = "active"
    mem.created_cycle_id = cycle_id
    mem.deferred_reason = None
    if facts is not None:
        mem.facts = [dict(f) for f in facts]
    session.flush()
    for old_id in supersedes:
        supersede(session, old_id, mem.id)
    return mem


def retire_deferred(session: Session, memory_id: int, *, reason: str) -> Memory:
    """A deferred item a later message made obsolete: kept as history (superseded), never taken up."""
    mem = get_memory(session, memory_id)
    if mem.status != "deferred":
        raise InputError(f"memory {memory_id} is {mem.status}, not deferred")
    mem.status = "superseded"
    mem.superseded_at = utcnow()
    mem.deferred_reason = reason
    session.flush()
    return mem


def mark_learnability(
    session: Session, memory_id: int, values: dict[str, bool], *, note: str | None
) -> Memory:
    """Record what the tuner's teacher could say: per stated value (in `facts`), and for the item (learnable
    when any value is). A value the teacher never says is "not learnable by this model"."""
    mem = get_memory(session, memory_id)
    facts = []
    for f in mem.facts or ():
        f = dict(f)
        if f.get("value") in values:
            f["learnable"] = bool(values[f["value"]])
        facts.append(f)
    mem.facts = facts
    mem.learnable = any(values.values()) if values else None
    mem.learn_note = note
    session.flush()
    return mem


def supersede(session: Session, old_id: int, new_id: int) -> Memory:
    """Mark `old_id` superseded by `new_id`; returns the old item."""
    if old_id == new_id:
        raise InputError(f"memory {old_id} cannot supersede itself")
    old = get_memory(session, old_id)
    get_memory(session, new_id)
    if old.status != "active":
        raise InputError(f"memory {old_id} is {old.status}, not active")
    old.status = "superseded"
    old.superseded_by = new_id
    old.superseded_at = utcnow()
    session.flush()
    return old


def forget(session: Session, memory_id: int, *, actor: str, reason: str | None = None) -> Memory:
    """Mark a memory (and its probes) forgotten: later cycles drop it from training and replay."""
    mem = get_memory(session, memory_id)
    if mem.status == "forgotten":
        raise InputError(f"memory {memory_id} is already forgotten")
    previous = mem.status
    mem.status = "forgotten"
    mem.forgotten_at = utcnow()
    mem.forget_reason = reason
    for probe in session.scalars(select(Probe).where(Probe.memory_id == memory_id)):
        probe.status = "forgotten"
    record_event(
        session,
        "memory.forget",
        actor=actor,
        reason=reason,
        details={"memory_id": memory_id, "previous_status": previous},
    )
    session.flush()
    return mem


def get_memory(session: Session, memory_id: int) -> Memory:
    mem = session.get(Memory, memory_id)
    if mem is None:
        raise NotFound(f"no memory {memory_id}")
    return mem


def list_memories(
    session: Session,
    *,
    status: str | None = "active",
    cycle_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Memory]:
    q = select(Memory)
    if status is not None:
        q = q.where(Memory.status == status)
    if cycle_id is not None:
        q = q.where(Memory.created_cycle_id == cycle_id)
    q = q.order_by(Memory.id).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    return list(session.scalars(q))


def search_memories(
    session: Session, text: str, *, status: str | None = None, limit: int | None = 50
) -> list[Memory]:
    """Case-insensitive substring search over text, subject, relation and value."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    cols = (Memory.text, Memory.subject, Memory.relation, Memory.value)
    q = select(Memory).where(or_(*(c.ilike(pattern, escape="\\") for c in cols)))
    if status is not None:
        q = q.where(Memory.status == status)
    q = q.order_by(Memory.id)
    if limit is not None:
        q = q.limit(limit)
    return list(session.scalars(q))


def active_in_slot(session: Session, subject: str, relation: str) -> list[Memory]:
    """Active items with this subject and relation: the candidates a new value supersedes."""
    q = select(Memory).where(
        Memory.subject == subject, Memory.relation == relation, Memory.status == "active"
    )
    return list(session.scalars(q.order_by(Memory.id)))


def history(session: Session, memory_id: int) -> list[Memory]:
    """The supersede chain through `memory_id`, oldest first (includes the item itself)."""
    mem = get_memory(session, memory_id)
    chain = [mem]
    seen = {mem.id}
    cur = mem
    while True:  # back: the item this one superseded (at most one per link in practice)
        prev = session.scalars(
            select(Memory).where(Memory.superseded_by == cur.id).order_by(Memory.id.desc()).limit(1)
        ).first()
        if prev is None or prev.id in seen:
            break
        chain.insert(0, prev)
        seen.add(prev.id)
        cur = prev
    cur = mem
    while cur.superseded_by is not None and cur.superseded_by not in seen:
        cur = get_memory(session, cur.superseded_by)
        chain.append(cur)
        seen.add(cur.id)
    return chain


# ---- probes ------------------------------------------------------------------------------------


def add_probe(
    session: Session, memory_id: int, kind: str, prompt: str, answer: str, *, split: str = "eval"
) -> Probe:
    if kind not in PROBE_KINDS:
        raise InputError(f"probe kind must be one of {', '.join(PROBE_KINDS)}, got {kind!r}")
    if split not in PROBE_SPLITS:
        raise InputError(f"probe split must be one of {', '.join(PROBE_SPLITS)}, got {split!r}")
    if not prompt or not answer:
        raise InputError("a probe needs a prompt and an answer")
    get_memory(session, memory_id)
    probe = Probe(
        memory_id=memory_id,
        kind=kind,
        prompt=prompt,
        answer=answer,
        split=split,
        status="active",
        created_at=utcnow(),
    )
    session.add(probe)
    session.flush()
    return probe


def list_probes(
    session: Session,
    *,
    memory_ids: Iterable[int] | None = None,
    cycle_id: int | None = None,
    status: str | None = "active",
    split: str | None = None,
    kind: str | None = None,
) -> list[Probe]:
    q = select(Probe)
    if memory_ids is not None:
        q = q.where(Probe.memory_id.in_(list(memory_ids)))
    if cycle_id is not None:
        q = q.join(Memory, Memory.id == Probe.memory_id).where(Memory.created_cycle_id == cycle_id)
    if status is not None:
        q = q.where(Probe.status == status)
    if split is not None:
        q = q.where(Probe.split == split)
    if kind is not None:
        q = q.where(Probe.kind == kind)
    return list(session.scalars(q.order_by(Probe.id)))
