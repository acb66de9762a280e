"""Crash and corruption tests for generations.

Every named step of promote, rollback, create and gc is killed with SIGKILL in a subprocess (fault hook
SLEEPD_FAULT=op:step). After the "restart" (a fresh open + reconcile, as the daemon does on start):
the current generation is exactly the old or the new one (which one is fixed by the step), the DB and
the generations/current symlink agree, `verify` passes, and the served state is the expected one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import TINY

from daemon.init import BaseModel, init_data_dir, open_data_dir
from memory.events import list_events
from memory.faults import ENV_VAR, STEPS
from memory.generations import current_generation_id, generation_list_json
from model.state import State

SHA = "cd" * 32
REPO = Path(__file__).resolve().parents[2]

# Runs one store operation in a fresh process, like `sleepd gen promote` would.
WORKER = """
import sys
from daemon.init import open_data_dir
dd = open_data_dir(sys.argv[1])
op = sys.argv[2]
store = dd.generations
if op == "promote":
    store.promote(2, reason="crash test", actor="test")
elif op == "rollback":
    store.rollback(reason="crash test", actor="test")
elif op == "gc":
    store.gc(dry_run=False, keep_ancestors=0, rejected_after_days=0, actor="test")
elif op == "create":
    from model.config import RWKV7Config
    from model.state import State
    cfg = RWKV7Config.from_dict(store.read_manifest(0)["model_config"])
    s = State.zeros(cfg)
    s.wkv.fill_(0.25)
    store.create_generation(state=s, parent_id=1, base_model_id="tiny", base_model_sha256=sys.argv[3])
print("survived")
"""

# Mounts the storage command groups on the real root (until daemon/cli.py does) and runs the real main().
CLI_SHIM = """
import sys
import daemon.cli as c
from daemon.cli import gen as cli_gen, init as cli_init, log as cli_log
names = {g.name for g in c.app.registered_groups} | {x.name for x in c.app.registered_commands}
for mod, name in ((cli_init, "init"), (cli_log, "log"), (cli_gen, "gen")):
    if name not in names:
        mod.register(c.app)
sys.argv[0] = "sleepd"
c.main()
"""


def state_for(seed: int) -> State:
    import torch

    g = torch.Generator().manual_seed(seed)
    s = State.zeros(TINY)
    s.wkv.copy_(torch.randn(s.wkv.shape, generator=g))
    return s


def fake_model(_path):
    return BaseModel(path="/models/tiny.pth", model_id="tiny", sha256=SHA, config=TINY)


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """Two data dirs: `promote` (gen 1 current, gen 2 a candidate) and `rollback` (gen 2 current)."""
    base = tmp_path_factory.mktemp("templates")
    t_promote = base / "promote"
    init_data_dir(t_promote, inspect=fake_model)
    with open_data_dir(t_promote) as dd:
        for gid, parent in ((1, 0), (2, 1)):
            gen = dd.generations.create_generation(
                state=state_for(gid), parent_id=parent, base_model_id="tiny", base_model_sha256=SHA
            )
            assert gen.id == gid
        dd.generations.promote(1)
    t_rollback = base / "rollback"
    shutil.copytree(t_promote, t_rollback, symlinks=True)
    with open_data_dir(t_rollback) as dd:
        dd.generations.promote(2)
    return {"promote": t_promote, "rollback": t_rollback, "create": t_promote, "gc": t_promote}


def run_killed(jobs: list[tuple[str, str, Path]]) -> dict[tuple[str, str], subprocess.CompletedProcess]:
    """Start every (op, step, data_dir) job at once (they are independent), then collect them."""
    procs = {}
    for op, step, data_dir in jobs:
        env = {**os.environ, ENV_VAR: f"{op}:{step}", "PYTHONPATH": str(REPO)}
        procs[(op, step)] = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(data_dir), op, SHA],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    out = {}
    for key, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        out[key] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    return out


def restart_and_check(data_dir: Path, expected_current: int) -> None:
    with open_data_dir(data_dir) as dd:
        store = dd.generations
        store.reconcile(actor="test restart")
        with dd.db.read() as s:
            cur = current_generation_id(s)
        assert cur == expected_current
        assert os.readlink(store.current_link) == str(cur)
        results = store.verify()
        assert all(r.ok for r in results), [r.to_dict() for r in results if not r.ok]
        loaded = store.load_current_state()
        assert loaded.generation_id == cur and not loaded.fallback_from
        assert loaded.state.equal(state_for(cur))
        assert not list(store.root.glob(".current.tmp-*"))


def test_sigkill_at_every_step_leaves_old_or_new_and_agreeing_pointers(templates, tmp_path):
    expected: dict[tuple[str, str], int] = {}
    jobs = []
    for op in ("promote", "rollback"):
        old, new = (1, 2) if op == "promote" else (2, 1)
        committed = False
        for step in STEPS[op]:
            committed = committed or step == "after_db_commit"
            expected[(op, step)] = new if committed else old
    for op in ("create", "gc"):
        for step in STEPS[op]:
            expected[(op, step)] = 1
    for op, step in expected:
        d = tmp_path / f"{op}-{step}"
        shutil.copytree(templates[op], d, symlinks=True)
        jobs.append((op, step, d))
    results = run_killed(jobs)

    for (op, step), res in results.items():
        assert res.returncode == -signal.SIGKILL, f"{op}:{step} was not killed: {res.stderr[-2000:]}"
        assert "survived" not in res.stdout
        d = tmp_path / f"{op}-{step}"
        restart_and_check(d, expected[(op, step)])

    # create: a row appears only with complete files; an interrupted create leaves an orphan for gc.
    for step in STEPS["create"]:
        d = tmp_path / f"create-{step}"
        with open_data_dir(d) as dd:
            with dd.db.read() as s:
                ids = [g["id"] for g in generation_list_json(s)]
            plan = dd.generations.gc(dry_run=True, keep_ancestors=5, rejected_after_days=14)
            if step == "after_db_commit":
                assert ids == [0, 1, 2, 3] and plan.orphans == []
            else:
                assert ids == [0, 1, 2] and len(plan.orphans) == 1
                dd.generations.gc(dry_run=False, keep_ancestors=5, rejected_after_days=14)
                assert dd.generations.create_generation(
                    state=state_for(9), parent_id=1, base_model_id="tiny", base_model_sha256=SHA
                ).id in (3, 4)
                assert all(r.ok for r in dd.generations.verify())

    # gc: the row is marked first, so a killed gc leaves leftovers that the next gc removes.
    for step in STEPS["gc"]:
        d = tmp_path / f"gc-{step}"
        with open_data_dir(d) as dd:
            dd.generations.gc(dry_run=False, keep_ancestors=0, rejected_after_days=0)
            names = sorted(
                p.name for p in dd.paths.generations.iterdir() if p.is_dir() and not p.is_symlink()
            )
            assert names == ["0", "1"]


def sleepd(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(ENV_VAR, None)
    return subprocess.run(
        [sys.executable, "-c", CLI_SHIM, *args, "--data-dir", str(data_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_corrupt_current_state_is_reported_and_the_parent_is_served(templates, tmp_path):
    d = tmp_path / "corrupt"
    shutil.copytree(templates["rollback"], d, symlinks=True)  # current 2, parent 1
    state_file = d / "generations" / "2" / "state.safetensors"
    data = bytearray(state_file.read_bytes())
    data[-3] ^= 0xFF
    state_file.write_bytes(bytes(data))

    res = sleepd("gen", "verify", "--json", data_dir=d)
    assert res.returncode == 1
    report = json.loads(res.stdout)
    assert report["ok"] is False
    bad = {g["id"]: g for g in report["generations"]}[2]
    assert bad["problems"] == ["state.safetensors: sha256 mismatch"]
    assert res.stderr.strip() == "sleepd: verification failed for generation 2"

    with open_data_dir(d) as dd:  # a daemon restart
        loaded = dd.generations.load_current_state()
        assert (loaded.generation_id, loaded.current_id) == (1, 2)
        assert loaded.state.equal(state_for(1))
        with dd.db.read() as s:
            ev = list_events(s, action="generation.load_fallback")
            assert len(ev) == 1 and ev[0].details["current"] == 2 and ev[0].details["served"] == 1
            assert current_generation_id(s) == 2
    assert state_file.exists()

    res = sleepd("gen", "promote", "2", data_dir=d)  # a corrupt generation is never promoted (exit 1)
    assert res.returncode == 0 and "already current" in res.stdout
    res = sleepd("gen", "rollback", "--reason", "corrupt", data_dir=d)
    assert res.returncode == 0, res.stderr
    res = sleepd("gen", "promote", "2", data_dir=d)
    assert res.returncode == 1 and "failed verification" in res.stderr and "Traceback" not in res.stderr
