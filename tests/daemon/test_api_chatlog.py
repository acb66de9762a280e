"""How chat requests that resend their history are logged: only what is new, never losing a turn."""

from __future__ import annotations

import pytest

from daemon.chatlog import ChatMessage, log_reply, log_request, new_message_start
from memory import log as memlog


def keys(*pairs):
    return [tuple(p.split(":", 1)) for p in pairs]


@pytest.mark.parametrize(
    ("stored", "request_", "start"),
    [
        ([], ["user:hi"], 0),
        (["user:hi", "assistant:hello"], ["user:hi", "assistant:hello", "user:next"], 2),
        # full history with a system prompt
        (["system:s", "user:a", "assistant:b"], ["system:s", "user:a", "assistant:b", "user:c"], 3),
        # sliding window that kept the system prompt
        (
            ["system:s", "user:a", "assistant:b", "user:c", "assistant:d"],
            ["system:s", "user:c", "assistant:d", "user:e"],
            3,
        ),
        # the same words again are a new turn, not history
        (["user:hi", "assistant:hello"], ["user:hi", "assistant:hello", "user:hi"], 2),
        (["user:hi", "assistant:hello"], ["user:hi"], 0),
        # an edited earlier turn: from there on, everything is new
        (["user:a", "assistant:b", "user:c", "assistant:d"], ["user:a", "assistant:B", "user:e"], 1),
        # a retry of the same request: the prompt is logged again (next to a second reply)
        (["user:a", "assistant:b", "user:c", "assistant:d"], ["user:a", "assistant:b", "user:c"], 2),
    ],
)
def test_new_message_start(stored, request_, start):
    assert new_message_start(keys(*stored), keys(*request_)) == start


def msgs(*pairs):
    return [ChatMessage(*p.split(":", 1)) for p in pairs]


def stored(db, cid):
    with db.read() as s:
        return [(m.role, m.content) for m in memlog.get_conversation(s, cid).messages]


def test_successive_requests_store_each_message_once(db):
    with db.write() as s:
        first = log_request(s, "c1", msgs("system:Be kind.", "user:Hi"))
        log_reply(s, "c1", "Hello!", "chatcmpl-1")
    assert len(first.message_ids) == 2 and first.skipped == 0
    with db.write() as s:
        # The client resends everything, with whitespace the transcript format normalizes away.
        second = log_request(
            s, "c1", msgs("system:Be kind.", "user:Hi  ", "assistant:Hello!\n", "user:How are you?")
        )
        log_reply(s, "c1", "Fine.", "chatcmpl-2")
    assert second.skipped == 3 and len(second.message_ids) == 1
    assert stored(db, "c1") == [
        ("system", "Be kind."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "How are you?"),
        ("assistant", "Fine."),
    ]


def test_long_conversation_with_a_window_compares_only_the_tail(db):
    with db.write() as s:
        log_request(s, "c2", msgs("system:S"))
        for i in range(40):
            log_request(s, "c2", msgs(f"user:q{i}"))
            log_reply(s, "c2", f"a{i}", f"chatcmpl-{i}")
    with db.write() as s:
        res = log_request(s, "c2", msgs("system:S", "user:q39", "assistant:a39", "user:q40"))
    assert res.skipped == 3
    rows = stored(db, "c2")
    assert len(rows) == 1 + 80 + 1 and rows[-1] == ("user", "q40")


def test_the_reply_id_is_the_completion_id_and_feedback_finds_it(db):
    with db.write() as s:
        log_request(s, "c3", msgs("user:x"))
        log_reply(s, "c3", "y", "chatcmpl-abc")
        fb = memlog.add_feedback(s, "chatcmpl-abc", 1.0)
    assert fb.rating == 1.0
