"""Forgetting: `sleepd memories forget` marks an item and its probes forgotten and schedules a rebuild.

`rebuild_pending(session)` stays true until a cycle with `rebuild=True` that started after the forget has
been promoted, so the forgotten fact cannot survive in a warm-started state: the cycle reads it and tunes
from the base state on the remaining bank.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from memory import bank as membank
from memory.events import record_event
from memory.schema import Cycle, Memory


def _as_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def forget_memory(session: Session, memory_id: int, *, actor: str, reason: str | None = None) -> Memory:
    """Mark an item and its probes forgotten and schedule a rebuild (see `rebuild_pending`)."""
    mem = membank.forget(session, memory_id, actor=actor, reason=reason)
    record_event(
        session,
        "memory.rebuild_scheduled",
        actor=actor,
        reason=f"memory {memory_id} forgotten",
        details={"memory_id": memory_id},
    )
    return mem


def rebuild_pending(session: Session) -> bool:
    """True while a forget is newer than the start of the last promoted rebuild cycle.

    A rebuild that started before the forget, or that was rejected or failed, does not count: the forgotten
    item may be in its state (or in the still-current warm state)."""
    last_forget = _as_time(session.scalar(select(func.max(Memory.forgotten_at))))
    if last_forget is None:
        return False
    started = session.scalar(
        select(func.max(func.coalesce(Cycle.started_at, Cycle.created_at))).where(
            Cycle.rebuild.is_(True), Cycle.status == "promoted"
        )
    )
    last_rebuild = _as_time(started)
    return last_rebuild is None or last_forget >= last_rebuild
