"""`sleepd log import|list|show`, through typer as the root mounts it."""

from __future__ import annotations

import json

from support import cli_app, run_cli, tiny_base

from daemon.cli import log as cli_log
from daemon.init import init_data_dir


def run(*args: str) -> tuple[int, str, str]:
    return run_cli(cli_app(cli_log.register), *args)


def init(tmp_path):
    d = tmp_path / "home"
    init_data_dir(d, inspect=lambda p: tiny_base())
    return str(d)


def jsonl(path, *rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


C1 = {
    "conversation_id": "conv-26",
    "messages": [
        {"id": "D1:1", "role": "user", "content": "Hey Mel!", "name": "Caroline"},
        {"id": "D1:2", "role": "assistant", "content": "Hi Caroline!", "created_at": "2023-05-08T13:56:00Z"},
    ],
    "metadata": {"source": "locomo"},
}
C2 = {"conversation_id": "conv-30", "messages": [{"id": "D1:1", "role": "user", "content": "Hi Jon"}]}


def test_import_list_show(tmp_path):
    d = init(tmp_path)
    f = jsonl(tmp_path / "a.jsonl", C1, C2)
    code, out, _ = run("log", "import", f, "--json", "--data-dir", d)
    assert code == 0 and json.loads(out) == {"conversations": 2, "messages_added": 3, "messages_skipped": 0}
    code, out, _ = run("--json", "--data-dir", d, "log", "import", f)  # global options before the group
    assert code == 0 and json.loads(out)["messages_skipped"] == 3
    code, out, _ = run("log", "list", "--json", "--data-dir", d)
    rows = json.loads(out)
    assert [r["id"] for r in rows] == ["conv-30", "conv-26"] and rows[1]["messages"] == 2
    code, out, _ = run("log", "show", "conv-26", "--json", "--data-dir", d)
    conv = json.loads(out)
    assert [m["id"] for m in conv["messages"]] == ["D1:1", "D1:2"]
    assert conv["messages"][1]["created_at"] == "2023-05-08T13:56:00+00:00"
    assert conv["metadata"] == {"source": "locomo"}
    code, out, _ = run("log", "show", "conv-26", "--data-dir", d)
    assert code == 0 and "[D1:1] user (Caroline)" in out and "Hey Mel!" in out
    code, out, _ = run("log", "list", "--data-dir", d)
    assert code == 0 and out.splitlines()[0].split() == ["ID", "SOURCE", "MESSAGES", "LAST", "MESSAGE"]


def test_bad_line_is_reported_with_its_number_and_nothing_is_imported(tmp_path):
    d = init(tmp_path)
    bad = {"conversation_id": "x", "messages": [{"role": "user", "content": "ok", "colour": "red"}]}
    f = jsonl(tmp_path / "bad.jsonl", C1, C2, bad)
    code, out, err = run("log", "import", f, "--data-dir", d)
    assert code == 2 and out == ""
    allowed = "(allowed: id, role, content, name, created_at)"
    assert err == f'sleepd: error: {f}:3: messages[0]: unknown key "colour" {allowed}'
    code, out, _ = run("log", "list", "--json", "--data-dir", d)
    assert json.loads(out) == []


def test_usage_errors(tmp_path):
    d = init(tmp_path)
    assert run("log", "show", "nope", "--data-dir", d)[::2] == (2, 'sleepd: error: no conversation "nope"')
    code, _, err = run("log", "import", str(tmp_path / "missing.jsonl"), "--data-dir", d)
    assert code == 2 and err.endswith("missing.jsonl: no such file")
    code, _, err = run("log", "list", "--data-dir", str(tmp_path / "uninitialised"))
    assert code == 2 and "run `sleepd init`" in err
