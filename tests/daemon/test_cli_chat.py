"""`sleepd chat`: a terminal chat against the current generation, logged, both with the model loaded in the
CLI process (no daemon) and through a running daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from daemon.init import init_data_dir, open_data_dir
from daemon.process import ServerProcess
from memory import log as memlog


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("chat")
    ckpt = tiny_checkpoint
    init_data_dir(root / "home", model_path=ckpt)
    return root / "home"


def chat(home, stdin, *args):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "daemon.cli",
            "--data-dir",
            str(home),
            "chat",
            "--json",
            "--max-tokens",
            "6",
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )


def stored(home, cid):
    with open_data_dir(home) as dd, dd.db.read() as s:
        view = memlog.get_conversation(s, cid)
        return view.conversation.source, [(m.role, m.content, m.message_id) for m in view.messages]


def test_local_chat_logs_each_turn_once_and_can_continue(home):
    res = chat(home, "Hello\n\nHow are you?\n/exit\nnever sent\n", "--temperature", "0", "--local")
    assert res.returncode == 0, res.stderr
    turns = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(turns) == 2 and "local model, generation 0" in res.stderr
    cid = turns[0]["conversation_id"]
    source, rows = stored(home, cid)
    assert source == "chat"
    assert [(r[0], r[1]) for r in rows] == [
        ("user", "Hello"),
        ("assistant", turns[0]["reply"]),
        ("user", "How are you?"),
        ("assistant", turns[1]["reply"]),
    ]
    assert [rows[1][2], rows[3][2]] == [turns[0]["reply_id"], turns[1]["reply_id"]]

    more = chat(home, "And now?\n", "--conversation", cid, "--local")
    assert more.returncode == 0, more.stderr
    _, rows = stored(home, cid)
    assert [r[:2] for r in rows[4:]] == [
        ("user", "And now?"),
        ("assistant", json.loads(more.stdout)["reply"]),
    ]
    assert len(rows) == 6  # the history sent as context was not logged again


def test_chat_goes_through_a_running_daemon(home):
    with ServerProcess(home).start() as srv:
        res = chat(home, "Via the daemon\n", "--system", "Be brief.")
        assert res.returncode == 0, res.stderr
        assert f"daemon {srv.url}" in res.stderr
        turn = json.loads(res.stdout)
        assert turn["generation"] == 0 and turn["reply_id"].startswith("chatcmpl-")
        source, rows = stored(home, turn["conversation_id"])
        assert source == "chat"
        assert [r[:2] for r in rows] == [
            ("system", "Be brief."),
            ("user", "Via the daemon"),
            ("assistant", turn["reply"]),
        ]


def test_continuing_an_unknown_conversation_is_a_usage_error(home):
    res = chat(home, "x\n", "--conversation", "no-such-conversation", "--local")
    assert res.returncode == 2 and "no conversation" in res.stderr and "Traceback" not in res.stderr


def test_the_default_model_answers_from_earlier_in_the_chat(tmp_path):
    """`sleepd init` without --model, then `sleepd chat`: facts told earlier in the same chat come back (the
    phrasings are not the persona world's templates)."""
    init_data_dir(tmp_path / "home")  # the embedded default model
    script = (
        "I got a new cat last week, her name is Mochi.\n"
        "By the way, I work as a nurse at Mercy Hospital.\n"
        "What's my cat's name?\n"
        "What do I do for work?\n"
    )
    cli = [sys.executable, "-m", "daemon.cli", "--data-dir", str(tmp_path / "home")]
    res = subprocess.run(
        [*cli, "chat", "--json", "--local", "--temperature", "0", "--max-tokens", "16"],
        input=script,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    replies = [json.loads(line)["reply"] for line in res.stdout.splitlines()]
    assert len(replies) == 4
    assert "Mochi" in replies[2] and "nurse" in replies[3], replies
