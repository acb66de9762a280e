"""Sleep-cycle rows and their state machine (the orchestrator that drives them lives in daemon/).

    pending → reflecting → tuning → evaluating → promoted | rejected
    any non-terminal state → failed | skipped, or back to pending (a clean restart after a crash)

A cycle may also stay in its state (resume after a crash: `transition` to the same state just updates
fields). promoted, rejected, failed and skipped are terminal: a terminal cycle never changes state again,
which is what makes "a promotion happens at most once" checkable. At most one cycle is non-terminal at a
time (`create_cycle` refuses a second one; BEGIN IMMEDIATE makes the check and the insert atomic).

Watermarks: a cycle reflects on messages with watermark_from < pk <= watermark_to. `next_watermark_from`
is the newest watermark_to of a cycle that got past reflection (promoted, rejected or skipped): a failed
cycle does not consume its messages.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from memory.errors import Conflict, InputError, NotFound
from memory.schema import CYCLE_STATUSES, Cycle, utcnow

TERMINAL = frozenset({"promoted", "rejected", "failed", "skipped"})
_FORWARD = {
    "pending": {"reflecting"},
    "reflecting": {"tuning", "rejected"},
    "tuning": {"evaluating"},
    "evaluating": {"promoted", "rejected"},
}
CONSUMING = ("promoted", "rejected", "skipped")
_SETTABLE = {
    "watermark_to",
    "parent_generation_id",
    "candidate_generation_id",
    "report_path",
    "result",
    "error",
}


def allowed_transitions(status: str) -> frozenset[str]:
    if status in TERMINAL:
        return frozenset()
    return frozenset(_FORWARD[status] | {status, "failed", "skipped", "pending"})


def create_cycle(
    session: Session,
    trigger: str,
    *,
    watermark_from: int | None = None,
    parent_generation_id: int | None = None,
    rebuild: bool = False,
) -> Cycle:
    """A new pending cycle; raises `Conflict` while another cycle is unfinished."""
    running = active_cycle(session)
    if running is not None:
        raise Conflict(f"cycle {running.id} is still {running.status}")
    now = utcnow()
    cycle = Cycle(
        status="pending",
        trigger=trigger,
        created_at=now,
        updated_at=now,
        watermark_from=next_watermark_from(session) if watermark_from is None else watermark_from,
        parent_generation_id=parent_generation_id,
        rebuild=rebuild,
    )
    session.add(cycle)
    session.flush()
    return cycle


def transition(session: Session, cycle_id: int, status: str, **fields: Any) -> Cycle:
    """Move a cycle to `status`, setting any of watermark_to, parent_generation_id, candidate_generation_id,
    report_path, result, error. An illegal move raises `InputError` and changes nothing."""
    if status not in CYCLE_STATUSES:
        raise InputError(f"unknown cycle status {status!r}")
    unknown = set(fields) - _SETTABLE
    if unknown:
        raise TypeError(f"transition() got unknown fields {sorted(unknown)}")
    cycle = get_cycle(session, cycle_id)
    if status not in allowed_transitions(cycle.status):
        raise InputError(f"cycle {cycle_id} cannot go from {cycle.status} to {status}")
    now = utcnow()
    if cycle.status == "pending" and status != "pending" and cycle.started_at is None:
        cycle.started_at = now
    if status == "pending":
        cycle.started_at = None
    cycle.status = status
    for key, value in fields.items():
        setattr(cycle, key, value)
    cycle.updated_at = now
    if status in TERMINAL:
        cycle.finished_at = now
    session.flush()
    return cycle


def get_cycle(session: Session, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(f"no cycle {cycle_id}")
    return cycle


def list_cycles(session: Session, *, limit: int | None = 50, status: str | None = None) -> list[Cycle]:
    q = select(Cycle)
    if status is not None:
        q = q.where(Cycle.status == status)
    q = q.order_by(Cycle.id.desc())
    if limit is not None:
        q = q.limit(limit)
    return list(session.scalars(q))


def active_cycle(session: Session) -> Cycle | None:
    """The unfinished cycle, if any (after a crash: the one to resume or fail)."""
    q = select(Cycle).where(Cycle.status.not_in(TERMINAL)).order_by(Cycle.id.desc()).limit(1)
    return session.scalars(q).first()


def next_watermark_from(session: Session) -> int:
    q = select(func.max(Cycle.watermark_to)).where(Cycle.status.in_(CONSUMING))
    return session.scalar(q) or 0
