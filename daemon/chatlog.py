"""Logging chat exchanges without storing the repeated history twice.

OpenAI-style clients resend the whole conversation (or a window of it) with every request. A chat request
that belongs to a conversation (the `X-Sleepd-Conversation` header, else the `user` field) is logged in
two writes:

1. Before inference, only the request messages that are not in the log yet (`new_message_start`):
   - The request's messages before the last one are history. Its longest prefix that appears, in
     order, among the conversation's stored messages (a subsequence; compared by role and normalized
     content) is taken as already logged.
   - The rest is appended: the history that was not logged plus the last message.
   - The last message is the turn being answered, so it is always logged, even when an identical
     message exists. A retried request therefore logs its prompt twice, next to two replies: a
     duplicate is better than losing a turn the user really sent.
   - Stored messages compared against are the conversation's system messages plus its newest
     `len(request) + TAIL_SLACK`. That covers a client resending everything, a sliding window
     (with or without a fixed system prompt), and a new chat under the same `user` id, and keeps
     the check O(request) however long the conversation has grown.
   - When the client changed history (edited an earlier turn), the changed messages are appended:
     the log is append-only and records what was said.
2. After inference and before the response (or its final chunk) is sent, the reply. Its message id is the
   completion id (`chatcmpl-...`), which is what a client can pass to `/v1/feedback`. A reply that was
   never produced (the generation failed, or a streaming client disconnected and the generation was
   stopped) is not logged; the request's messages stay logged, since the user did say them.

Without a conversation id a request starts a new conversation (`conv_<hex>`, returned in the response
header `X-Sleepd-Conversation` and in the `sleepd` field of the body), and all its messages are logged.

Every function takes a Session inside a write transaction (the daemon's Writer, or `db.write()` in the CLI);
reading the stored tail and appending happen in that one transaction, so two concurrent requests for the
same conversation cannot both decide the same message is new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from memory.log import ConversationIn, MessageIn, store_conversation
from memory.schema import Message
from model.chat_format import normalize_content

TAIL_SLACK = 8


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str
    name: str | None = None

    def key(self) -> tuple[str, str]:
        return (self.role, normalize_content(self.content))


@dataclass(frozen=True)
class LoggedRequest:
    conversation_id: str
    message_ids: list[str]  # the ids of the messages this request added (history already logged: none)
    skipped: int  # request messages found in the log already


def new_message_start(stored: Sequence[tuple[str, str]], request: Sequence[tuple[str, str]]) -> int:
    """Index from which `request` (role, normalized content) keys are new, given `stored` keys in order:
    the length of the longest prefix of request[:-1] that is a subsequence of `stored`."""
    if not request:
        return 0
    history = request[:-1]
    j = 0
    for key in stored:  # greedy leftmost matching gives the longest matched prefix
        if j < len(history) and key == history[j]:
            j += 1
    return j


def stored_keys(session: Session, conversation_id: str, request_len: int) -> list[tuple[str, str]]:
    """Keys of what a request is compared against: system messages plus the newest messages."""
    tail = list(
        session.execute(
            select(Message.seq, Message.role, Message.content)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.seq.desc())
            .limit(request_len + TAIL_SLACK)
        )
    )
    oldest_tail = min((row.seq for row in tail), default=None)
    rows = {row.seq: row for row in tail}
    if oldest_tail is not None:
        for row in session.execute(
            select(Message.seq, Message.role, Message.content).where(
                Message.conversation_id == conversation_id,
                Message.role == "system",
                Message.seq < oldest_tail,
            )
        ):
            rows[row.seq] = row
    return [(rows[s].role, normalize_content(rows[s].content)) for s in sorted(rows)]


def log_request(
    session: Session, conversation_id: str, messages: Sequence[ChatMessage], *, source: str = "api"
) -> LoggedRequest:
    """Append the request messages that are not logged yet (see the module docstring)."""
    keys = [m.key() for m in messages]
    start = new_message_start(stored_keys(session, conversation_id, len(keys)), keys)
    new = [MessageIn(role=m.role, content=m.content, name=m.name) for m in messages[start:]]
    cid, ids = store_conversation(session, ConversationIn(conversation_id, tuple(new)), source=source)
    return LoggedRequest(cid, ids, start)


def log_reply(
    session: Session, conversation_id: str, reply: str, message_id: str, *, source: str = "api"
) -> str:
    """Append the assistant's reply with the given (completion) id; returns the id."""
    msg = MessageIn(role="assistant", content=reply, id=message_id)
    _cid, ids = store_conversation(session, ConversationIn(conversation_id, (msg,)), source=source)
    return ids[0]
