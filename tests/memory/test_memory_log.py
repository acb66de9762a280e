"""The interaction log: strict import-format validation, appending, idempotence, import, feedback."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from memory import log
from memory.errors import Conflict, InputError, NotFound
from memory.schema import Conversation, Message


def conv(cid="c1", *msgs, **extra):
    messages = list(msgs) or [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi!"}]
    return {"conversation_id": cid, "messages": messages, **extra}


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([], "expected a JSON object, got an array"),
        ({"messages": []}, "conversation_id: missing"),
        ({"conversation_id": 3, "messages": []}, "conversation_id: expected a string, got a number"),
        ({"conversation_id": " ", "messages": []}, "conversation_id: must not be empty"),
        ({"conversation_id": "c"}, "messages: missing"),
        ({"conversation_id": "c", "messages": []}, "messages: must not be empty"),
        ({"conversation_id": "c", "messages": {}}, "messages: expected an array, got an object"),
        (
            conv("c", {"role": "bot", "content": "x"}),
            'messages[0].role: expected one of user, assistant, system, got "bot"',
        ),
        (conv("c", {"content": "x"}), "messages[0].role: missing"),
        (conv("c", {"role": "user"}), "messages[0].content: missing"),
        (conv("c", {"role": "user", "content": 5}), "messages[0].content: expected a string, got a number"),
        (conv("c", {"role": "user", "content": "x", "foo": 1}), 'messages[0]: unknown key "foo"'),
        (
            conv("c", {"role": "user", "content": "x", "created_at": "yesterday"}),
            "messages[0].created_at: expected an ISO-8601 time",
        ),
        (conv("c", {"role": "user", "content": "x", "name": 1}), "messages[0].name: expected a string"),
        (conv("c", {"role": "user", "content": "x", "id": ""}), "messages[0].id: must not be empty"),
        (
            conv(
                "c", {"id": "a", "role": "user", "content": "x"}, {"id": "a", "role": "user", "content": "y"}
            ),
            'messages[1].id: "a" appears twice',
        ),
        (conv("c", metadata=[1]), "metadata: expected an object, got an array"),
        (conv("c", extra=1), 'unknown key "extra"'),
        (conv("x" * 300), "conversation_id: longer than 256 characters"),
    ],
)
def test_parse_rejects_bad_input_with_a_clear_message(obj, message):
    with pytest.raises(InputError) as e:
        log.parse_conversation(obj)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_parse_accepts_the_full_format():
    c = log.parse_conversation(
        conv(
            "c",
            {
                "id": "D1:1",
                "role": "system",
                "content": "",
                "name": "Mel",
                "created_at": "2023-05-08T13:56:00Z",
            },
            {"role": "user", "content": "x", "created_at": "2023-05-08T13:56:00", "name": None},
            metadata={"k": [1]},
        )
    )
    assert c.messages[0].created_at.isoformat() == "2023-05-08T13:56:00+00:00"
    assert c.messages[1].created_at == c.messages[0].created_at  # no offset: taken as UTC
    assert c.metadata == {"k": [1]}


def test_add_interaction_generates_unique_ids_and_appends(db):
    with db.write() as s:
        cid, ids = log.add_interaction(s, conv("c1"))
        _, more = log.add_interaction(s, conv("c1", {"role": "user", "content": "again"}))
    assert cid == "c1" and len(ids) == 2 and len(set(ids + more)) == 3
    assert all(i.startswith("msg_") and len(i) == 36 for i in ids + more)
    with db.read() as s:
        view = log.get_conversation(s, "c1")
    assert [m.seq for m in view.messages] == [0, 1, 2]
    assert [m.content for m in view.messages] == ["hello", "hi!", "again"]
    assert view.conversation.source == "api"


def test_repost_with_ids_is_idempotent_and_conflicts_are_refused(db):
    body = conv(
        "c", {"id": "m1", "role": "user", "content": "a"}, {"id": "m2", "role": "assistant", "content": "b"}
    )
    with db.write() as s:
        assert log.add_interaction(s, body) == ("c", ["m1", "m2"])
    with db.write() as s:  # a retried POST
        assert log.add_interaction(s, body) == ("c", ["m1", "m2"])
        _, ids = log.add_interaction(
            s,
            conv(
                "c",
                {"id": "m2", "role": "assistant", "content": "b"},
                {"id": "m3", "role": "user", "content": "c"},
            ),
        )
        assert ids == ["m2", "m3"]
    with pytest.raises(Conflict, match='already has a message "m1" with different content'), db.write() as s:
        log.add_interaction(s, conv("c", {"id": "m1", "role": "user", "content": "changed"}))
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 3


def test_metadata_is_merged_on_append(db):
    with db.write() as s:
        log.add_interaction(s, conv("c", metadata={"a": 1, "b": 1}))
        log.add_interaction(s, conv("c", metadata={"b": 2}))
    with db.read() as s:
        assert s.get(Conversation, "c").meta == {"a": 1, "b": 2}


def write_jsonl(path, lines):
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_import_keeps_ids_and_allows_ids_repeated_across_conversations(db, tmp_path):
    f = write_jsonl(
        tmp_path / "a.jsonl",
        [
            conv("conv-26", {"id": "D1:1", "role": "user", "content": "Hey Mel!", "name": "Caroline"}),
            "",
            conv("conv-30", {"id": "D1:1", "role": "user", "content": "Hi Jon", "name": "Gina"}),
        ],
    )
    with db.write() as s:
        res = log.import_jsonl(s, f)
    assert (res.conversations, res.messages_added, res.messages_skipped) == (2, 2, 0)
    with db.write() as s:  # importing the same file again adds nothing
        res = log.import_jsonl(s, f)
    assert (res.messages_added, res.messages_skipped) == (0, 2)
    with db.read() as s:
        assert {c.source for c in [s.get(Conversation, "conv-26"), s.get(Conversation, "conv-30")]} == {
            "import"
        }
        with pytest.raises(InputError, match="exists in 2 conversations"):
            log.get_message(s, "D1:1")
        assert log.get_message(s, "D1:1", "conv-30").content == "Hi Jon"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "a.jsonl:3: invalid JSON"),
        (json.dumps(conv("x", {"role": "robot", "content": "?"})), "a.jsonl:3: messages[0].role"),
        (json.dumps([1]), "a.jsonl:3: expected a JSON object"),
    ],
)
def test_import_reports_the_bad_line_and_imports_nothing(db, tmp_path, bad, message):
    f = write_jsonl(tmp_path / "a.jsonl", [conv("ok1"), conv("ok2"), bad, conv("ok3")])
    with pytest.raises(InputError) as e, db.write() as s:
        log.import_jsonl(s, f)
    assert message in str(e.value)
    with db.read() as s:
        assert log.count_conversations(s) == 0


def test_import_conflict_found_while_writing_rolls_everything_back(db, tmp_path):
    with db.write() as s:
        log.add_interaction(s, conv("old", {"id": "m1", "role": "user", "content": "original"}))
    f = write_jsonl(
        tmp_path / "a.jsonl", [conv("new1"), conv("old", {"id": "m1", "role": "user", "content": "edited"})]
    )
    with pytest.raises(Conflict, match=r"a\.jsonl:2: "), db.write() as s:
        log.import_jsonl(s, f)
    with db.read() as s:
        assert [c.id for c in log.list_conversations(s)] == ["old"]


def test_import_file_problems(db, tmp_path):
    with pytest.raises(InputError, match="no such file"), db.write() as s:
        log.import_jsonl(s, tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="no conversations"), db.write() as s:
        log.import_jsonl(s, tmp_path / "empty.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(b'{"a": "\xff"}\n')
    with pytest.raises(InputError, match=r"bin\.jsonl:1: not valid UTF-8"), db.write() as s:
        log.import_jsonl(s, tmp_path / "bin.jsonl")


def test_feedback(db):
    with db.write() as s:
        _, ids = log.add_interaction(s, conv("c"))
        fb = log.add_feedback(s, ids[1], 0.5, "good answer")
    assert fb.rating == 0.5
    for bad in (2, -1.5, float("nan"), True, "1"):
        with pytest.raises(InputError, match="rating"), db.write() as s:
            log.add_feedback(s, ids[1], bad)
    with pytest.raises(NotFound, match='no message "nope"'), db.write() as s:
        log.add_feedback(s, "nope", 1)
    with db.read() as s:
        view = log.get_conversation(s, "c").to_dict()
    assert view["messages"][1]["feedback"][0]["note"] == "good answer"


def test_watermark_queries_return_messages_in_arrival_order(db):
    with db.write() as s:
        log.add_interaction(s, conv("a"))
        mark = log.last_message_pk(s)
        log.add_interaction(s, conv("b"))
        log.add_interaction(s, conv("a", {"role": "user", "content": "late"}))
    with db.read() as s:
        new = log.new_messages_since(s, mark)
        upto = log.last_message_pk(s)
        assert [(m.conversation_id, m.content) for m in new] == [("b", "hello"), ("b", "hi!"), ("a", "late")]
        assert log.new_messages_since(s, mark, upto=mark + 1)[0].conversation_id == "b"
        assert log.new_messages_since(s, upto) == []
        summaries = log.list_conversations(s)
    assert [c.id for c in summaries] == ["a", "b"]  # most recently active first
    assert summaries[0].messages == 3


def test_show_unknown_conversation(db):
    with pytest.raises(NotFound, match='no conversation "zz"'), db.read() as s:
        log.get_conversation(s, "zz")


def test_times_before_year_1000_round_trip_and_overflow_is_refused(db):
    """Year 286 must read back (it once did not), and a time that overflows in UTC is one clear error."""
    old = {"role": "user", "content": "hi", "created_at": "0286-03-30T10:00:00+00:00"}
    with db.write() as s:
        cid, _ = log.add_interaction(s, conv("old", old))
    with db.read() as s:
        view = log.get_conversation(s, cid)
        assert view.conversation.id == "old" and view.messages[0].created_at.year == 286
    bad = {"role": "user", "content": "hi", "created_at": "0001-01-01T00:00:00+05:00"}
    with pytest.raises(InputError, match="out of range"):
        log.parse_conversation(conv("x", bad))
