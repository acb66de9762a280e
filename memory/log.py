"""The interaction log: conversations and messages in the import format, and feedback on messages.

Import format (one conversation per JSONL line, also the body of `POST /v1/interactions`):

    {"conversation_id": str, "messages": [{"id": str?, "role": "user"|"assistant"|"system",
      "content": str, "name": str?, "created_at": ISO-8601?}], "metadata": {}?}

Validation is strict: an unknown key or a wrong type is an `InputError` naming the place
(`messages[2].role: expected one of user, assistant, system, got "bot"`).

Appending: posting to an existing conversation appends after its last message; its metadata is merged
(new keys win). Idempotence: a message whose id already exists in that conversation with the same role,
content and name is skipped (so a retried POST or a re-imported file adds nothing); with different content
it is a `Conflict`. Messages without an id get a generated, globally unique `msg_<hex>` id and are always
appended.

Message ids are unique per conversation only (imported ids such as LoCoMo's "D1:3" repeat across
conversations); `add_feedback` asks for the conversation when an id is ambiguous.

Write functions take a `Session` inside a write transaction and never commit; on an exception the caller's
transaction must roll back (`Database.write()` and `Writer` do), which is what makes `import_jsonl`
all-or-nothing.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from memory.errors import Conflict, InputError, NotFound
from memory.schema import CONVERSATION_SOURCES, ROLES, Conversation, Feedback, Message, utcnow

MAX_ID_LENGTH = 256
_CONVERSATION_KEYS = ("conversation_id", "messages", "metadata")
_MESSAGE_KEYS = ("id", "role", "content", "name", "created_at")


# ---- validated input ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageIn:
    role: str
    content: str
    id: str | None = None
    name: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class ConversationIn:
    conversation_id: str
    messages: tuple[MessageIn, ...]
    metadata: dict[str, Any] = field(default_factory=dict)


def _quote(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _id(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{where}: expected a string, got {_type_name(value)}")
    if not value.strip():
        raise InputError(f"{where}: must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InputError(f"{where}: longer than {MAX_ID_LENGTH} characters")
    return value


def parse_time(value: Any, where: str) -> datetime:
    """An ISO-8601 time as an aware UTC datetime; a time without an offset is taken as UTC."""
    if not isinstance(value, str):
        raise InputError(f"{where}: expected an ISO-8601 time string, got {_type_name(value)}")
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{where}: expected an ISO-8601 time, got {_quote(value)}") from None
    try:
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 falls before year 1 in UTC
        raise InputError(f"{where}: time out of range, got {_quote(value)}") from None


def _message(obj: Any, where: str) -> MessageIn:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected an object, got {_type_name(obj)}")
    for key in obj:
        if key not in _MESSAGE_KEYS:
            raise InputError(f"{where}: unknown key {_quote(key)} (allowed: {', '.join(_MESSAGE_KEYS)})")
    if "role" not in obj:
        raise InputError(f"{where}.role: missing")
    role = obj["role"]
    if role not in ROLES:
        raise InputError(f"{where}.role: expected one of {', '.join(ROLES)}, got {_quote(role)}")
    if "content" not in obj:
        raise InputError(f"{where}.content: missing")
    content = obj["content"]
    if not isinstance(content, str):
        raise InputError(f"{where}.content: expected a string, got {_type_name(content)}")
    mid = obj.get("id")
    name = obj.get("name")
    if name is not None and not isinstance(name, str):
        raise InputError(f"{where}.name: expected a string, got {_type_name(name)}")
    created = obj.get("created_at")
    return MessageIn(
        role=role,
        content=content,
        id=None if mid is None else _id(mid, f"{where}.id"),
        name=name,
        created_at=None if created is None else parse_time(created, f"{where}.created_at"),
    )


def parse_conversation(obj: Any) -> ConversationIn:
    """Validate one import-format conversation; raises `InputError` naming the first problem."""
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {_type_name(obj)}")
    for key in obj:
        if key not in _CONVERSATION_KEYS:
            raise InputError(f"unknown key {_quote(key)} (allowed: {', '.join(_CONVERSATION_KEYS)})")
    if "conversation_id" not in obj:
        raise InputError("conversation_id: missing")
    cid = _id(obj["conversation_id"], "conversation_id")
    if "messages" not in obj:
        raise InputError("messages: missing")
    raw = obj["messages"]
    if not isinstance(raw, list):
        raise InputError(f"messages: expected an array, got {_type_name(raw)}")
    if not raw:
        raise InputError("messages: must not be empty")
    messages = tuple(_message(m, f"messages[{i}]") for i, m in enumerate(raw))
    seen: set[str] = set()
    for i, m in enumerate(messages):
        if m.id is not None:
            if m.id in seen:
                raise InputError(f"messages[{i}].id: {_quote(m.id)} appears twice in this conversation")
            seen.add(m.id)
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise InputError(f"metadata: expected an object, got {_type_name(metadata)}")
    return ConversationIn(conversation_id=cid, messages=messages, metadata=dict(metadata))


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def new_conversation_id() -> str:
    return f"conv_{uuid.uuid4().hex}"


# ---- writing -----------------------------------------------------------------------------------


def store_conversation(
    session: Session, conv: ConversationIn, *, source: str = "api", now: datetime | None = None
) -> tuple[str, list[str]]:
    """Append a validated conversation; returns (conversation_id, the message ids in input order)."""
    cid, ids, _added = _store(session, conv, source=source, now=now)
    return cid, ids


def _store(
    session: Session, conv: ConversationIn, *, source: str, now: datetime | None
) -> tuple[str, list[str], int]:
    if source not in CONVERSATION_SOURCES:
        raise ValueError(f"source must be one of {CONVERSATION_SOURCES}, got {source!r}")
    now = now or utcnow()
    cid = conv.conversation_id
    row = session.get(Conversation, cid)
    existing: dict[str, Message] = {}
    if row is None:
        session.add(Conversation(id=cid, source=source, created_at=now, meta=dict(conv.metadata)))
        session.flush()
        next_seq = 0
    else:
        if conv.metadata:
            row.meta = {**(row.meta or {}), **conv.metadata}
        last = session.scalar(select(func.max(Message.seq)).where(Message.conversation_id == cid))
        next_seq = 0 if last is None else last + 1
        given = [m.id for m in conv.messages if m.id is not None]
        for chunk in _chunks(given, 500):
            q = select(Message).where(Message.conversation_id == cid, Message.message_id.in_(chunk))
            existing.update((m.message_id, m) for m in session.scalars(q))

    rows: list[dict[str, Any]] = []
    ids: list[str] = []
    for m in conv.messages:
        if m.id is not None and m.id in existing:
            old = existing[m.id]
            if (old.role, old.content, old.name) != (m.role, m.content, m.name):
                raise Conflict(
                    f"conversation {_quote(cid)} already has a message {_quote(m.id)} with different content"
                )
            ids.append(m.id)
            continue
        mid = m.id if m.id is not None else new_message_id()
        rows.append(
            {
                "conversation_id": cid,
                "message_id": mid,
                "seq": next_seq,
                "role": m.role,
                "content": m.content,
                "name": m.name,
                "created_at": m.created_at or now,
                "ingested_at": now,
            }
        )
        next_seq += 1
        ids.append(mid)
    if rows:
        session.execute(insert(Message), rows)
    return cid, ids, len(rows)


def add_interaction(session: Session, obj: Any, *, source: str = "api") -> tuple[str, list[str]]:
    """Validate one import-format object and append it: what `POST /v1/interactions` does."""
    return store_conversation(session, parse_conversation(obj), source=source)


@dataclass(frozen=True)
class ImportResult:
    conversations: int
    messages_added: int
    messages_skipped: int  # already present with the same content


def read_jsonl(path: str | Path) -> list[tuple[int, ConversationIn]]:
    """Parse and validate a whole JSONL file: [(line number, conversation)]; blank lines are skipped.

    The first bad line raises `InputError("FILE:LINE: problem")`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    out: list[tuple[int, ConversationIn]] = []
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{path}:{lineno}: not valid UTF-8") from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
        try:
            out.append((lineno, parse_conversation(obj)))
        except InputError as e:
            raise InputError(f"{path}:{lineno}: {e}") from None
    if not out:
        raise InputError(f"{path}: no conversations in the file")
    return out


def import_conversations(
    session: Session, items: Sequence[tuple[int, ConversationIn]], *, source: str = "import", label: str = ""
) -> ImportResult:
    added = skipped = 0
    now = utcnow()
    for lineno, conv in items:
        try:
            _cid, ids, new = _store(session, conv, source=source, now=now)
        except InputError as e:
            raise type(e)(f"{label}:{lineno}: {e}" if label else f"line {lineno}: {e}") from None
        added += new
        skipped += len(ids) - new
    n = len({c.conversation_id for _, c in items})
    return ImportResult(conversations=n, messages_added=added, messages_skipped=skipped)


def import_jsonl(session: Session, path: str | Path) -> ImportResult:
    """Import a JSONL file (ids kept). Every line is validated before anything is written; a conflict
    found while writing raises, and the caller's transaction rolls back, so nothing is half-imported."""
    items = read_jsonl(path)
    return import_conversations(session, items, source="import", label=str(path))


def add_feedback(
    session: Session,
    message_id: str,
    rating: float,
    note: str | None = None,
    conversation_id: str | None = None,
) -> Feedback:
    if isinstance(rating, bool) or not isinstance(rating, int | float):
        raise InputError(f"rating: expected a number in [-1, 1], got {_quote(rating)}")
    if not math.isfinite(rating) or not -1.0 <= rating <= 1.0:
        raise InputError(f"rating: expected a number in [-1, 1], got {rating}")
    if note is not None and not isinstance(note, str):
        raise InputError(f"note: expected a string, got {_type_name(note)}")
    msg = get_message(session, message_id, conversation_id)
    fb = Feedback(message_pk=msg.pk, rating=float(rating), note=note, created_at=utcnow())
    session.add(fb)
    session.flush()
    return fb


# ---- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    source: str
    created_at: datetime
    messages: int
    first_at: datetime | None
    last_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "created_at": self.created_at.isoformat(),
            "messages": self.messages,
            "first_at": self.first_at.isoformat() if self.first_at else None,
            "last_at": self.last_at.isoformat() if self.last_at else None,
        }


@dataclass(frozen=True)
class ConversationView:
    conversation: Conversation
    messages: list[Message]
    feedback: dict[int, list[Feedback]]  # by message pk

    def to_dict(self) -> dict[str, Any]:
        c = self.conversation
        return {
            "id": c.id,
            "source": c.source,
            "created_at": c.created_at.isoformat(),
            "metadata": c.meta,
            "messages": [
                {
                    **message_to_dict(m),
                    "feedback": [
                        {"rating": f.rating, "note": f.note, "created_at": f.created_at.isoformat()}
                        for f in self.feedback.get(m.pk, [])
                    ],
                }
                for m in self.messages
            ],
        }


def message_to_dict(m: Message) -> dict[str, Any]:
    return {
        "id": m.message_id,
        "conversation_id": m.conversation_id,
        "pk": m.pk,
        "seq": m.seq,
        "role": m.role,
        "content": m.content,
        "name": m.name,
        "created_at": m.created_at.isoformat(),
        "ingested_at": m.ingested_at.isoformat(),
    }


def list_conversations(
    session: Session, *, limit: int | None = 50, offset: int = 0, source: str | None = None
) -> list[ConversationSummary]:
    """Conversations, most recently active first."""
    q = (
        select(
            Conversation,
            func.count(Message.pk),
            func.min(Message.created_at),
            func.max(Message.created_at),
            func.max(Message.pk).label("last_pk"),
        )
        .outerjoin(Message, Message.conversation_id == Conversation.id)
        .group_by(Conversation.id)
        .order_by(func.coalesce(func.max(Message.pk), 0).desc(), Conversation.id)
        .offset(offset)
    )
    if source is not None:
        q = q.where(Conversation.source == source)
    if limit is not None:
        q = q.limit(limit)
    out = []
    for conv, n, first, last, _ in session.execute(q):
        out.append(
            ConversationSummary(
                id=conv.id,
                source=conv.source,
                created_at=conv.created_at,
                messages=n,
                first_at=_as_time(first),
                last_at=_as_time(last),
            )
        )
    return out


def count_conversations(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Conversation)) or 0


def get_conversation(session: Session, conversation_id: str) -> ConversationView:
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"no conversation {_quote(conversation_id)}")
    messages = list(
        session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq)
        )
    )
    return ConversationView(conv, messages, feedback_for(session, [m.pk for m in messages]))


def find_messages(session: Session, message_id: str, conversation_id: str | None = None) -> list[Message]:
    q = select(Message).where(Message.message_id == message_id)
    if conversation_id is not None:
        q = q.where(Message.conversation_id == conversation_id)
    return list(session.scalars(q.order_by(Message.pk)))


def get_message(session: Session, message_id: str, conversation_id: str | None = None) -> Message:
    """One message by external id; an id used in several conversations needs `conversation_id`."""
    found = find_messages(session, message_id, conversation_id)
    if not found:
        where = f" in conversation {_quote(conversation_id)}" if conversation_id is not None else ""
        raise NotFound(f"no message {_quote(message_id)}{where}")
    if len(found) > 1:
        convs = ", ".join(_quote(m.conversation_id) for m in found[:5])
        raise InputError(
            f"message id {_quote(message_id)} exists in {len(found)} conversations ({convs}); "
            "give conversation_id"
        )
    return found[0]


def feedback_for(session: Session, message_pks: Iterable[int]) -> dict[int, list[Feedback]]:
    out: dict[int, list[Feedback]] = {}
    for chunk in _chunks(list(message_pks), 500):
        for fb in session.scalars(
            select(Feedback).where(Feedback.message_pk.in_(chunk)).order_by(Feedback.id)
        ):
            out.setdefault(fb.message_pk, []).append(fb)
    return out


def last_message_pk(session: Session) -> int:
    """The newest message's pk (0 for an empty log): a cycle's watermark_to when it takes its snapshot."""
    return session.scalar(select(func.max(Message.pk))) or 0


def new_messages_since(
    session: Session, watermark: int, upto: int | None = None, limit: int | None = None
) -> list[Message]:
    """Messages with watermark < pk <= upto, in arrival order (what a cycle reflects on)."""
    q = select(Message).where(Message.pk > watermark)
    if upto is not None:
        q = q.where(Message.pk <= upto)
    q = q.order_by(Message.pk)
    if limit is not None:
        q = q.limit(limit)
    return list(session.scalars(q))


# ---- helpers -----------------------------------------------------------------------------------


def _as_time(value: Any) -> datetime | None:
    # Aggregates (min/max) bypass the column type, so the stored text comes back raw.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _chunks(items: list[Any], n: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
