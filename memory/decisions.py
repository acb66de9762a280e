"""Reflection decisions: what a cycle kept or dropped, with its score, score components and reasons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from memory.schema import Decision, utcnow


def record_decision(
    session: Session,
    *,
    cycle_id: int | None,
    source_message_ids: Sequence[str],
    kept: bool,
    score: float,
    reasons: Sequence[str] = (),
    components: dict[str, Any] | None = None,
    text: str | None = None,
    tokens: int | None = None,
) -> Decision:
    """`text` must already be redacted (reflection does that); dropped items usually have none."""
    d = Decision(
        cycle_id=cycle_id,
        source_message_ids=list(source_message_ids),
        kept=kept,
        score=float(score),
        components=dict(components or {}),
        reasons=list(reasons),
        text=text,
        tokens=tokens,
        created_at=utcnow(),
    )
    session.add(d)
    session.flush()
    return d


def list_decisions(session: Session, cycle_id: int | None, *, kept: bool | None = None) -> list[Decision]:
    q = select(Decision).where(
        Decision.cycle_id.is_(None) if cycle_id is None else Decision.cycle_id == cycle_id
    )
    if kept is not None:
        q = q.where(Decision.kept == kept)
    return list(session.scalars(q.order_by(Decision.id)))
