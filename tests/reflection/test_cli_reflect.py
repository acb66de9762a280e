"""`sleepd reflect --dry-run` and `sleepd memories ...` through typer, on a real data directory and model."""

from __future__ import annotations

import json

import pytest
from support import cli_app, run_cli

from daemon.cli import memories as cli_memories
from daemon.cli import reflect as cli_reflect
from daemon.init import init_data_dir, open_data_dir
from memory import log as memlog
from memory.forget import rebuild_pending
from reflection.config import ReflectionConfig
from reflection.pipeline import run_reflection

DAY = {
    "conversation_id": "c1",
    "messages": [
        {"id": "m1", "role": "user", "content": "Hi! I live in Oslo and my sister is called Ana."},
        {"id": "m2", "role": "assistant", "content": "Nice to meet you! How can I help?"},
        {
            "id": "m3",
            "role": "user",
            "content": "My password is hunter2secret!! and my dog Rex turns 3 on 4 May.",
        },
        {"id": "m4", "role": "user", "content": "Thanks!"},
    ],
}


def run(*args: str) -> tuple[int, str, str]:
    return run_cli(cli_app(cli_reflect.register, cli_memories.register), *args)


@pytest.fixture
def home(tmp_path, tiny_checkpoint, embedder):
    d = tmp_path / "home"
    init_data_dir(d, model_path=tiny_checkpoint)
    with open_data_dir(d) as dd, dd.db.write() as s:
        memlog.add_interaction(s, DAY, source="import")
    return str(d)


def test_reflect_dry_run_json_is_the_contract(home):
    code, out, err = run("--data-dir", home, "reflect", "--dry-run", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["total_tokens", "kept_tokens", "kept", "dropped"]
    assert all(list(r) == ["source_message_ids", "text", "score", "reasons"] for r in data["kept"])
    assert all(list(r) == ["source_message_ids", "score", "reasons"] for r in data["dropped"])
    assert "hunter2secret" not in out and "redacted: 1 password" in err  # counts on stderr, never values
    # The same through the root-level --json, and with another budget.
    code, out2, _ = run("--json", "--data-dir", home, "reflect", "--dry-run", "--budget-fraction", "1")
    assert code == 0
    assert json.loads(out2)["kept_tokens"] >= data["kept_tokens"]
    with open_data_dir(home) as dd, dd.db.read() as s:
        from memory.bank import list_memories

        assert list_memories(s, status=None) == []  # a dry run stores nothing


def test_reflect_human_output_and_bad_usage(home):
    code, out, _ = run("--data-dir", home, "reflect", "--dry-run")
    assert code == 0
    assert "KEPT" in out and "redacted: 1 password" in out and "hunter2secret" not in out
    code, _, err = run("--data-dir", home, "reflect")
    assert code == 2 and "--dry-run" in err
    code, _, _ = run("--data-dir", home, "reflect", "--dry-run", "--budget-fraction", "2")
    assert code == 2
    code, _, err = run("--data-dir", home + "-missing", "reflect", "--dry-run")
    assert code == 2 and "sleepd init" in err


def _store(home) -> list[int]:
    with open_data_dir(home) as dd:
        res = run_reflection(
            dd.db, None, None, since_watermark=0, config=ReflectionConfig(budget_fraction=1.0), dry_run=False
        )
    return [it.memory_id for it in res.items]


def test_memories_list_show_search_forget(home):
    ids = _store(home)
    assert ids
    code, out, _ = run("--data-dir", home, "memories", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["id"] for r in rows] == ids and all(r["status"] == "active" for r in rows)
    oslo = next(r for r in rows if "Oslo" in r["text"])
    assert oslo["slot"] == {"subject": "user", "relation": "city", "value": "Oslo"}

    code, out, _ = run("--data-dir", home, "memories", "show", str(oslo["id"]), "--json")
    shown = json.loads(out)
    assert code == 0 and shown["probes"] and shown["history"][0]["id"] == oslo["id"]
    code, out, _ = run("--data-dir", home, "memories", "show", str(oslo["id"]))
    assert code == 0 and "probes:" in out

    code, out, _ = run("--data-dir", home, "memories", "search", "oslo", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [oslo["id"]]
    code, out, _ = run("--data-dir", home, "memories", "search", "nothing-like-this")
    assert code == 0 and "no memories" in out

    code, out, _ = run(
        "--data-dir", home, "memories", "forget", str(oslo["id"]), "--reason", "moved", "--json"
    )
    data = json.loads(out)
    assert (
        code == 0
        and data["status"] == "forgotten"
        and data["rebuild_pending"]
        and data["probes_forgotten"] > 0
    )
    with open_data_dir(home) as dd, dd.db.read() as s:
        assert rebuild_pending(s)
    code, out, _ = run("--data-dir", home, "memories", "list", "--json")
    assert oslo["id"] not in [r["id"] for r in json.loads(out)]
    code, out, _ = run("--data-dir", home, "memories", "list", "--status", "forgotten", "--json")
    assert [r["id"] for r in json.loads(out)] == [oslo["id"]]

    code, _, err = run("--data-dir", home, "memories", "forget", str(oslo["id"]))
    assert code == 2 and "already forgotten" in err
    code, _, err = run("--data-dir", home, "memories", "show", "9999")
    assert code == 2 and "no memory 9999" in err
    code, _, err = run("--data-dir", home, "memories", "list", "--status", "bogus")
    assert code == 2 and "--status" in err


def test_reflection_config_validates_as_a_config_toml_section():
    from daemon.config import ConfigError, from_mapping

    where = "config.toml: [reflection]"
    cfg = from_mapping(ReflectionConfig, {"w_judge": 1, "salience": {"w_cue": 2.5}}, where=where)
    assert (
        cfg.w_judge == 1.0 and cfg.salience.w_cue == 2.5 and cfg.w_surprise == ReflectionConfig().w_surprise
    )
    for bad, key in (({"budget_fraction": 1.5}, "budget_fraction"), ({"salience": {"nope": 1}}, "nope")):
        with pytest.raises(ConfigError, match=key):
            from_mapping(ReflectionConfig, bad, where=where)
    with pytest.raises(ConfigError, match="related_cosine"):
        from_mapping(ReflectionConfig, {"related_cosine": 0.99, "duplicate_cosine": 0.9}, where=where)
