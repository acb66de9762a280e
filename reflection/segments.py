"""Candidate segments: the units reflection scores, keeps or drops.

By default every message is its own segment. With `pair_short_replies`, a user turn and the assistant reply
right after it become one segment when the reply is short ("Got it, Lisbon it is."): the reply alone means
nothing, and the pair is cheaper to decide on together. Segments never overlap, so a budget over segments is a
budget over tokens actually kept.

System messages are skipped by default: restated system prompts were the largest class of junk in mem0's
memory audit (mem0#4573), and the system prompt is configuration, not memory.

Messages can be mappings in the import format ({"id", "role", "content", "name"?}) or objects with those
attributes (log rows). Callers redact message content before building segments. Token counts come from the
`count_tokens` callable (the model tokenizer in production; a whitespace counter in tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CountTokens = Callable[[str], int]


def whitespace_tokens(text: str) -> int:
    return len(text.split())


@dataclass(frozen=True)
class SegmentConfig:
    include_system: bool = False
    pair_short_replies: bool = False
    short_reply_tokens: int = (
        48  # an assistant reply at most this long is folded into the user turn before it
    )
    skip_empty: bool = True


@dataclass(frozen=True)
class Segment:
    source_message_ids: list[str]
    conversation_id: str
    text: str
    roles: list[str]  # one per source message
    token_count: int
    position: int = 0  # index of the first source message in the input: recency and deterministic tie-breaks
    contents: tuple[str, ...] = ()  # each source message's own text, for per-message scoring
    names: tuple[str | None, ...] = ()
    created_at: str | None = None  # of the first source message (ISO-8601), when known

    @property
    def role(self) -> str:
        """The single role, or the distinct roles joined with '+' for a window ("user+assistant")."""
        return "+".join(dict.fromkeys(self.roles))


def _get(message: Any, key: str) -> Any:
    if isinstance(message, Mapping):
        return message.get(key)
    return getattr(message, key, None)


def _label(role: str, name: str | None) -> str:
    return name or role.capitalize()


def build_segments(
    messages: Iterable[Any],
    count_tokens: CountTokens = whitespace_tokens,
    *,
    conversation_id: str | None = None,
    config: SegmentConfig = SegmentConfig(),
) -> list[Segment]:
    """Segments in message order. A message's own `conversation_id` wins over the argument."""
    rows = []
    for i, m in enumerate(messages):
        mid = _get(m, "id")
        if mid is None or str(mid) == "":
            raise ValueError(f"message {i} has no id; reflection needs ids to cite its sources")
        role = str(_get(m, "role") or "user")
        content = _get(m, "content") or ""
        if not isinstance(content, str):
            raise ValueError(f"message {mid!s} content is not text")
        conv = _get(m, "conversation_id") or conversation_id or ""
        if role == "system" and not config.include_system:
            continue
        if config.skip_empty and not content.strip():
            continue
        created = _get(m, "created_at")
        created = (
            created.isoformat() if hasattr(created, "isoformat") else (str(created) if created else None)
        )
        rows.append((i, str(mid), str(conv), role, content, _get(m, "name"), created))

    out: list[Segment] = []
    j = 0
    while j < len(rows):
        i, mid, conv, role, content, name, created = rows[j]
        nxt = rows[j + 1] if j + 1 < len(rows) else None
        if (
            config.pair_short_replies
            and role == "user"
            and nxt is not None
            and nxt[3] == "assistant"
            and nxt[2] == conv
            and count_tokens(nxt[4]) <= config.short_reply_tokens
        ):
            _, mid2, _, role2, content2, name2, _ = nxt
            text = f"{_label(role, name)}: {content}\n{_label(role2, name2)}: {content2}"
            out.append(
                Segment(
                    [mid, mid2],
                    conv,
                    text,
                    [role, role2],
                    count_tokens(text),
                    i,
                    (content, content2),
                    (name, name2),
                    created,
                )
            )
            j += 2
            continue
        out.append(
            Segment([mid], conv, content, [role], count_tokens(content), i, (content,), (name,), created)
        )
        j += 1
    return out
