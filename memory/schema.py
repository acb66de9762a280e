"""The SQLite schema of sleepd, as SQLAlchemy 2 typed models.

Changing a table here needs a new Alembic revision in memory/migrations/versions/ (batch mode, since SQLite
cannot alter constraints in place); tests/memory/test_memory_db.py fails when the models and the
migrations disagree.

Conventions
- Times are stored as fixed-width ISO-8601 UTC text (`2025-01-02T03:04:05.000006+00:00`), so they sort as
  text and read back as timezone-aware datetimes.
- `messages.pk` is the global arrival order (AUTOINCREMENT: never reused). Writes are serialised with
  BEGIN IMMEDIATE, so pk order is commit order and a cycle can use it as a watermark.
- `messages.message_id` is the external id. Imported ids repeat across conversations (LoCoMo's "D1:3"), so it
  is unique per conversation only; ids sleepd generates are globally unique (`msg_<hex>`).
- The current generation is the row `pointers(name='current')`: the DB is the truth, the
  `generations/current` symlink only mirrors it.
- `events` is an append-only audit log; its ids are plain integers (no foreign keys) so that audit rows
  never block or depend on anything else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints: Alembic's batch mode can only drop or alter constraints that have names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CONVERSATION_SOURCES = ("api", "import", "chat")
ROLES = ("user", "assistant", "system")
CYCLE_STATUSES = (
    "pending",
    "reflecting",
    "tuning",
    "evaluating",
    "promoted",
    "rejected",
    "failed",
    "skipped",
)
# deferred: a stated fact that did not fit a night's capacity; it goes first in line the next night.
MEMORY_STATUSES = ("active", "superseded", "forgotten", "deferred")
PROBE_KINDS = ("cloze", "qa")
PROBE_SPLITS = ("train", "eval")
PROBE_STATUSES = ("active", "forgotten")
GENERATION_STATUSES = ("base", "candidate", "promoted", "rejected")
GENERATION_KINDS = ("state", "lora")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as fixed-width UTC ISO-8601 text (sortable, readable in the sqlite shell)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use an aware datetime")
        # isoformat, not strftime: glibc's %Y does not zero-pad years below 1000, and such text would not
        # parse back (fixed width also keeps lexical order = time order for years 1000-9999).
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: str | None, dialect: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }

    def to_dict(self) -> dict[str, Any]:
        """Column values by attribute name, datetimes as ISO strings (JSON-ready)."""
        out: dict[str, Any] = {}
        for attr in self.__mapper__.column_attrs:
            value = getattr(self, attr.key)
            out[attr.key] = value.isoformat() if isinstance(value, datetime) else value
        return out


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (CheckConstraint(_in("source", CONVERSATION_SOURCES), name="source"),)

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    meta: Mapped[dict[str, Any]] = mapped_column("metadata_json", default=dict)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "message_id"),
        UniqueConstraint("conversation_id", "seq"),
        CheckConstraint(_in("role", ROLES), name="role"),
        Index("ix_messages_message_id", "message_id"),
        {"sqlite_autoincrement": True},
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    message_id: Mapped[str] = mapped_column(String(256))
    seq: Mapped[int]  # position within the conversation, from 0
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]  # client-given, else the server time of ingestion
    ingested_at: Mapped[datetime]


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("rating >= -1.0 AND rating <= 1.0", name="rating_range"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.pk"), index=True)
    rating: Mapped[float] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Cycle(Base):
    __tablename__ = "cycles"
    __table_args__ = (
        CheckConstraint(_in("status", CYCLE_STATUSES), name="status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    trigger: Mapped[str] = mapped_column(String(32))  # "schedule", "manual", "api", ...
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    watermark_from: Mapped[int] = mapped_column(default=0)  # messages.pk > from ...
    watermark_to: Mapped[int | None]  # ... and <= to (fixed when the snapshot is taken)
    parent_generation_id: Mapped[int | None] = mapped_column(ForeignKey("generations.id"))
    candidate_generation_id: Mapped[int | None] = mapped_column(ForeignKey("generations.id"))
    rebuild: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    report_path: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column("result_json", JSON)


class Decision(Base):
    """One reflection decision: a span of source messages kept (with its redacted text) or dropped."""

    __tablename__ = "decisions"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"), index=True)
    source_message_ids: Mapped[list[Any]] = mapped_column(default=list)
    kept: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    components: Mapped[dict[str, Any]] = mapped_column("components_json", default=dict)
    reasons: Mapped[list[Any]] = mapped_column("reasons_json", default=list)
    text: Mapped[str | None] = mapped_column(Text)  # already redacted; None for dropped items
    tokens: Mapped[int | None]
    created_at: Mapped[datetime]


class Memory(Base):
    """A kept memory item. `subject`/`relation`/`value` form an optional slot used for supersede."""

    __tablename__ = "memories"
    __table_args__ = (
        CheckConstraint(_in("status", MEMORY_STATUSES), name="status"),
        Index("ix_memories_slot", "subject", "relation", "status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    text: Mapped[str] = mapped_column(Text)  # redacted
    subject: Mapped[str | None] = mapped_column(Text)
    relation: Mapped[str | None] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("memories.id"))
    superseded_at: Mapped[datetime | None]
    created_cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"), index=True)
    source_message_ids: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    forgotten_at: Mapped[datetime | None]
    forget_reason: Mapped[str | None] = mapped_column(Text)
    # Why the item waits (status "deferred"), and the cycle that deferred it last.
    deferred_reason: Mapped[str | None] = mapped_column(Text)
    deferred_cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))
    # Whether the last night that tuned it could make its teacher say the value (None: not tried yet), and
    # why not when it could not ("not learnable by this model").
    learnable: Mapped[bool | None] = mapped_column(Boolean)
    learn_note: Mapped[str | None] = mapped_column(Text)
    # Every fact the text states: [{"relation", "kind", "noun", "value"}] (reflection/stated.py); what
    # self-study asks and what the negative questions steer around.
    facts: Mapped[list[Any]] = mapped_column("facts_json", default=list)


class Probe(Base):
    """A question about a memory; `split` keeps training phrasings apart from scoring phrasings."""

    __tablename__ = "probes"
    __table_args__ = (
        CheckConstraint(_in("kind", PROBE_KINDS), name="kind"),
        CheckConstraint(_in("split", PROBE_SPLITS), name="split"),
        CheckConstraint(_in("status", PROBE_STATUSES), name="status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    memory_id: Mapped[int] = mapped_column(ForeignKey("memories.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    split: Mapped[str] = mapped_column(String(8), default="eval")
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime]


class Generation(Base):
    """A memory generation; its files live in generations/<dir_name>/ (see memory/generations.py)."""

    __tablename__ = "generations"
    __table_args__ = (
        CheckConstraint(_in("status", GENERATION_STATUSES), name="status"),
        CheckConstraint(_in("kind", GENERATION_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 0 is the base
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("generations.id"))
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8), default="state")
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id", use_alter=True))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    base_model_id: Mapped[str] = mapped_column(Text)
    base_model_sha256: Mapped[str] = mapped_column(String(64))
    dir_name: Mapped[str] = mapped_column(String(64))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    removed_at: Mapped[datetime | None]  # files removed by `gen gc --yes`; the row stays as history
    note: Mapped[str | None] = mapped_column(Text)


class Pointer(Base):
    """Named pointers to generations; the row 'current' is the served generation."""

    __tablename__ = "pointers"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id"))
    updated_at: Mapped[datetime]


class Event(Base):
    """Audit log: what happened, when, by which command or process, and why."""

    __tablename__ = "events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(Text)
    generation_id: Mapped[int | None] = mapped_column(index=True)
    cycle_id: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column("details_json", default=dict)
