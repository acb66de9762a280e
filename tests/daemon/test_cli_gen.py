"""`sleepd gen ...` through typer as the root mounts it, plus the real entry point for exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support import TINY, cli_app, run_cli
from typer.testing import CliRunner

from daemon.cli import gen as cli_gen
from daemon.init import BaseModel, init_data_dir, open_data_dir
from memory import bank, cycles
from model.state import State

SHA = "ef" * 32
REPO = Path(__file__).resolve().parents[2]
SUBCOMMANDS = ["list", "show", "diff", "promote", "rollback", "pin", "unpin", "verify", "gc"]


def run(*args: str) -> tuple[int, str, str]:
    return run_cli(cli_app(cli_gen.register), *args)


def state(seed: int) -> State:
    g = torch.Generator().manual_seed(seed)
    s = State.zeros(TINY)
    s.wkv.copy_(torch.randn(s.wkv.shape, generator=g))
    return s


@pytest.fixture
def home(tmp_path):
    """Generation 0 (base) <- 1 (promoted) <- 2 (candidate, from cycle 1 which kept one memory)."""
    d = tmp_path / "home"
    init_data_dir(d, inspect=lambda p: BaseModel("/m.pth", "tiny", SHA, TINY))
    with open_data_dir(d) as dd:
        st = dd.generations
        st.create_generation(state=state(1), parent_id=0, base_model_id="tiny", base_model_sha256=SHA)
        st.promote(1)
        with dd.db.write() as s:
            c = cycles.create_cycle(s, "manual")
            bank.add_memory(s, "Ana likes tea.", cycle_id=c.id)
        st.create_generation(
            state=state(2), parent_id=1, cycle_id=c.id, base_model_id="tiny", base_model_sha256=SHA
        )
    return str(d)


def test_list_json_is_exactly_the_contract(home):
    code, out, _ = run("gen", "list", "--json", "--data-dir", home)
    assert code == 0
    rows = json.loads(out)
    assert [sorted(r) for r in rows] == [
        sorted(["id", "parent", "created_at", "status", "current", "pinned"])
    ] * 3
    assert [(r["id"], r["parent"], r["status"], r["current"]) for r in rows] == [
        (0, None, "base", False),
        (1, 0, "promoted", True),
        (2, 1, "candidate", False),
    ]
    code, out, _ = run("--json", "--data-dir", home, "gen", "list")
    assert json.loads(out) == rows
    code, out, _ = run("gen", "list", "--data-dir", home)
    assert code == 0 and out.splitlines()[2].split()[:3] == ["*", "1", "0"]


def test_promote_rollback_pin_show_diff(home):
    code, out, _ = run("gen", "promote", "2", "--reason", "passed gates", "--json", "--data-dir", home)
    assert code == 0 and json.loads(out) == {"action": "promote", "from": 1, "to": 2, "changed": True}
    code, out, _ = run("gen", "rollback", "--json", "--data-dir", home)
    assert json.loads(out) == {"action": "rollback", "from": 2, "to": 1, "changed": True}
    code, out, _ = run("gen", "promote", "2", "--data-dir", home)
    assert code == 0 and out.strip() == "current generation: 1 -> 2"
    code, out, _ = run("gen", "rollback", "0", "--reason", "start over", "--data-dir", home)
    assert code == 0 and out.strip() == "current generation: 2 -> 0"
    code, out, _ = run("gen", "pin", "2", "--json", "--data-dir", home)
    assert json.loads(out) == {"id": 2, "pinned": True, "changed": True}
    code, out, _ = run("gen", "pin", "2", "--data-dir", home)
    assert out.strip() == "generation 2 was already pinned"
    code, out, _ = run("gen", "unpin", "2", "--json", "--data-dir", home)
    assert json.loads(out) == {"id": 2, "pinned": False, "changed": True}

    code, out, _ = run("gen", "show", "2", "--json", "--data-dir", home)
    info = json.loads(out)
    assert (info["id"], info["parent"], info["current"], info["status"]) == (2, 1, False, "promoted")
    assert set(info["manifest"]["files"]) == {"eval.json", "state.safetensors"}
    actions = [(e["action"], e["reason"]) for e in info["events"]]
    assert ("generation.promote", "passed gates") in actions and actions[0][0] == "generation.unpin"
    assert all(
        e["actor"].startswith("cli:gen ") for e in info["events"] if e["action"] != "generation.create"
    )
    code, out, _ = run("gen", "show", "1", "--data-dir", home)
    assert code == 0 and out.startswith("generation 1  (promoted, state)")

    code, out, _ = run("gen", "diff", "1", "2", "--json", "--top", "3", "--data-dir", home)
    d = json.loads(out)
    assert len(d["layers"]) == TINY.n_layer and len(d["heads"]) == 3
    assert [m["text"] for m in d["memories"]["added"]] == ["Ana likes tea."]
    code, out, _ = run("gen", "diff", "1", "2", "--data-dir", home)
    assert code == 0 and "memories added: 1, removed: 0" in out and "+ [1] Ana likes tea." in out


def test_bad_input_exits_2_with_one_line(home):
    cases = [
        (("gen", "show", "9"), "no generation 9"),
        (("gen", "promote", "9"), "no generation 9"),
        (("gen", "rollback", "2"), "generation 2 is not an ancestor of the current generation 1"),
        (("gen", "pin", "9"), "no generation 9"),
        (("gen", "diff", "0", "9"), "no generation 9"),
    ]
    for args, message in cases:
        code, out, err = run(*args, "--data-dir", home)
        assert (code, out) == (2, ""), args
        assert err.startswith("sleepd: error: " + message) and "\n" not in err
    run("gen", "rollback", "--data-dir", home)
    code, _, err = run("gen", "rollback", "--data-dir", home)
    assert (code, err) == (2, "sleepd: error: generation 0 has no parent; cannot roll back past it")
    with open_data_dir(home) as dd:
        dd.generations.reject(2, reason="gates")
    code, _, err = run("gen", "promote", "2", "--data-dir", home)
    rejected = "generation 2 was rejected by its gates; use --force to promote it anyway"
    assert (code, err) == (2, "sleepd: error: " + rejected)
    code, out, _ = run("gen", "promote", "2", "--force", "--json", "--data-dir", home)
    assert code == 0 and json.loads(out)["to"] == 2


def test_verify_and_gc(home):
    code, out, _ = run("gen", "verify", "--json", "--data-dir", home)
    assert code == 0 and json.loads(out)["ok"] is True
    f = Path(home) / "generations" / "1" / "state.safetensors"
    f.write_bytes(f.read_bytes()[:-1] + bytes([f.read_bytes()[-1] ^ 1]))
    code, out, err = run("gen", "verify", "--data-dir", home)
    assert code == 1 and "generation 1: FAILED" in out and "state.safetensors: sha256 mismatch" in out
    assert err == "sleepd: verification failed for generation 1"
    code, out, _ = run("gen", "verify", "0", "--json", "--data-dir", home)
    assert code == 0 and [g["id"] for g in json.loads(out)["generations"]] == [0]

    with open_data_dir(home) as dd:
        dd.generations.reject(2)
    (Path(home) / "generations" / ".tmp-5-1").mkdir()
    code, out, _ = run("gen", "gc", "--json", "--data-dir", home)
    plan = json.loads(out)
    assert plan["dry_run"] is True and plan["remove"] == [] and plan["orphans"] == [".tmp-5-1"]
    assert (Path(home) / "generations" / ".tmp-5-1").exists()
    code, out, _ = run("gen", "gc", "--yes", "--data-dir", home)
    assert code == 0 and "removed leftover directory generations/.tmp-5-1" in out
    assert not (Path(home) / "generations" / ".tmp-5-1").exists()
    assert (Path(home) / "generations" / "2").exists()  # a recent rejected candidate is kept


def test_help_documents_every_subcommand():
    res = CliRunner().invoke(cli_app(cli_gen.register), ["gen", "--help"])
    assert res.exit_code == 0
    for name in SUBCOMMANDS:
        assert name in res.stdout
    for name in SUBCOMMANDS:
        sub = CliRunner().invoke(cli_app(cli_gen.register), ["gen", name, "--help"])
        assert sub.exit_code == 0 and "--json" in sub.stdout, name


CLI_SHIM = """
import sys
import daemon.cli as c
from daemon.cli import gen as cli_gen
if "gen" not in {g.name for g in c.app.registered_groups}:
    cli_gen.register(c.app)
sys.argv[0] = "sleepd"
c.main()
"""


def test_real_entry_point_exit_codes(home):
    def sleepd(*args):
        env = {**os.environ, "PYTHONPATH": str(REPO), "SLEEPD_HOME": home}
        return subprocess.run(
            [sys.executable, "-c", CLI_SHIM, *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    res = sleepd("gen", "rollback", "7")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == "sleepd: error: no generation 7\n"
    res = sleepd("gen", "list", "--json")
    assert res.returncode == 0 and [r["id"] for r in json.loads(res.stdout)] == [0, 1, 2]
    res = sleepd("gen", "show", "abc")
    assert res.returncode == 2 and "Traceback" not in res.stderr
