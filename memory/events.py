"""The audit log: every change to generations, cycles and memories records what, when, who and why.

`actor` names the command or process that acted ("cli:gen promote", "daemon", "cycle 12"); `reason` is the
user's `--reason` text or the program's explanation. Events are append-only: nothing updates or deletes them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from memory.schema import Event, utcnow


def record_event(
    session: Session,
    action: str,
    *,
    actor: str,
    generation_id: int | None = None,
    cycle_id: int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> Event:
    event = Event(
        ts=utcnow(),
        action=action,
        actor=actor,
        generation_id=generation_id,
        cycle_id=cycle_id,
        reason=reason,
        details=dict(details or {}),
    )
    session.add(event)
    session.flush()
    return event


def list_events(
    session: Session,
    *,
    action: str | None = None,
    generation_id: int | None = None,
    cycle_id: int | None = None,
    limit: int | None = 100,
    newest_first: bool = True,
) -> list[Event]:
    q = select(Event)
    if action is not None:
        q = q.where(Event.action == action)
    if generation_id is not None:
        q = q.where(Event.generation_id == generation_id)
    if cycle_id is not None:
        q = q.where(Event.cycle_id == cycle_id)
    q = q.order_by(Event.id.desc() if newest_first else Event.id.asc())
    if limit is not None:
        q = q.limit(limit)
    return list(session.scalars(q))
