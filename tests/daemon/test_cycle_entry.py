"""The sleep-cycle entry point and its machinery: the contract shape, the placeholder pipeline, one cycle
at a time under the lock, the niced child process, and a clean stop (also when the daemon shuts down)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from support import tiny_base

from daemon.cycle import (
    PIPELINE_ENV,
    RESULT_KEYS,
    CycleBusy,
    CycleRunner,
    run_cycle,
    wait_for_lock_free,
)
from daemon.init import init_data_dir, open_data_dir
from daemon.locks import FileLock, cycle_lock_path
from daemon.paths import DataPaths
from memory import cycles
from memory import log as memlog

THIS_FILE = Path(__file__).resolve()


def _pipelines():
    """tests/daemon/pipelines.py (tests run with --import-mode=importlib: siblings load by path)."""
    spec = importlib.util.spec_from_file_location(
        "daemon_test_pipelines", THIS_FILE.with_name("pipelines.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_P = _pipelines()
skip_pipeline, SKIP_REASON, SKIP_SPEC = _P.skip_pipeline, _P.SKIP_REASON, _P.SKIP_SPEC


def slow_pipeline(ctx):
    """Runs until SIGTERM (CycleInterrupted) or should_stop(), then records a skip. The child loads it
    through SLEEPD_CYCLE_PIPELINE=<this file>:slow_pipeline."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not ctx.should_stop():
        time.sleep(0.02)
    skip_pipeline(ctx)


RELEASE = threading.Event()


def held_pipeline(ctx):
    """Runs until the test sets RELEASE (in-process runners only)."""
    RELEASE.wait(60)
    skip_pipeline(ctx)


@pytest.fixture
def home(tmp_path):
    d = tmp_path / "home"
    init_data_dir(d, inspect=lambda p: tiny_base())
    with open_data_dir(d) as dd, dd.db.write() as s:
        memlog.add_interaction(s, {"conversation_id": "c", "messages": [{"role": "user", "content": "hi"}]})
    return d


def sleepd(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


SKIP = {PIPELINE_ENV: SKIP_SPEC}  # these tests exercise the machinery, not the night


def test_run_cycle_returns_the_contract_and_records_a_skip(home):
    result = run_cycle(home, "manual", pipeline=skip_pipeline)
    assert list(result) == list(RESULT_KEYS)
    assert result["status"] == "skipped"
    assert (result["generation_id"], result["parent_generation_id"], result["kept"], result["gates"]) == (
        None,
        0,
        0,
        {},
    )
    assert SKIP_REASON in Path(result["report"]).read_text()
    assert Path(result["report"]).parent == DataPaths(home).cycle_dir(result["cycle_id"])
    with open_data_dir(home) as dd, dd.db.read() as s:
        c = cycles.get_cycle(s, result["cycle_id"])
        assert (c.status, c.trigger, c.result["reason"]) == ("skipped", "manual", SKIP_REASON)
        # A skipped placeholder cycle does not consume the messages: the first real cycle still sees them.
        assert c.watermark_to is None and cycles.next_watermark_from(s) == 0


def test_an_unfinished_cycle_from_a_crash_is_resumed_not_duplicated(home):
    with open_data_dir(home) as dd, dd.db.write() as s:
        stale = cycles.create_cycle(s, "schedule", parent_generation_id=0)
        cycles.transition(s, stale.id, "reflecting")
    seen = []

    def pipeline(ctx):
        seen.append((ctx.cycle_id, ctx.resumed, ctx.trigger))
        skip_pipeline(ctx)

    result = run_cycle(home, "manual", pipeline=pipeline)
    assert seen == [(stale.id, True, "schedule")] and result["cycle_id"] == stale.id


def test_a_failing_or_unfinished_pipeline_fails_the_cycle(home):
    def boom(ctx):
        raise RuntimeError("tuner exploded")

    r1 = run_cycle(home, "manual", pipeline=boom)
    r2 = run_cycle(home, "manual", pipeline=lambda ctx: None)
    assert (r1["status"], r2["status"]) == ("failed", "failed")
    with open_data_dir(home) as dd, dd.db.read() as s:
        assert "tuner exploded" in cycles.get_cycle(s, r1["cycle_id"]).error
        assert "without finishing" in cycles.get_cycle(s, r2["cycle_id"]).error


def test_the_child_process_is_niced_and_returns_the_result(home, capfd, monkeypatch):
    monkeypatch.setenv(PIPELINE_ENV, SKIP[PIPELINE_ENV])
    runner = CycleRunner(DataPaths(home), nice=7)
    result = runner.run("manual", timeout=120)
    assert list(result) == list(RESULT_KEYS) and result["status"] == "skipped"
    err = capfd.readouterr().err
    assert f"niceness {min(19, os.nice(0) + 7)}" in err
    assert wait_for_lock_free(DataPaths(home), 5)


def test_sleep_now_json_prints_exactly_the_contract(home):
    res = sleepd("--data-dir", str(home), "sleep", "--now", "--json", env=SKIP)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert list(data) == list(RESULT_KEYS) and data["status"] == "skipped"
    human = sleepd("sleep", "--now", "--data-dir", str(home), env=SKIP)
    assert human.returncode == 0 and "skipped (a test pipeline: the machinery ran, no night)" in human.stdout
    bad = sleepd("--data-dir", str(home), "sleep")
    assert bad.returncode == 2 and "--now" in bad.stderr and "Traceback" not in bad.stderr


def test_two_triggers_never_run_two_cycles(home):
    paths = DataPaths(home)
    RELEASE.clear()
    runners = [CycleRunner(paths, in_process=True, pipeline=held_pipeline) for _ in range(4)]
    started, busy = [], []
    barrier = threading.Barrier(len(runners))

    def go(r):
        barrier.wait()
        try:
            started.append(r.start("api"))
        except CycleBusy as e:
            busy.append(e)

    threads = [threading.Thread(target=go, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(started) == 1 and len(busy) == 3
    # Meanwhile another process (`sleepd sleep --now`) is refused too, naming the pid.
    res = sleepd("--data-dir", str(home), "sleep", "--now")
    assert res.returncode == 1 and "already running" in res.stderr and f"pid {os.getpid()}" in res.stderr
    RELEASE.set()
    assert started[0].wait(30) and started[0].result["status"] == "skipped"
    with open_data_dir(home) as dd, dd.db.read() as s:
        assert len(cycles.list_cycles(s)) == 1
    # Once it is done, the next one runs.
    assert runners[1].run("api", timeout=30)["cycle_id"] == started[0].result["cycle_id"] + 1


def test_a_held_lock_refuses_with_the_holders_pid(home):
    lock = FileLock(cycle_lock_path(DataPaths(home))).acquire({"child_pid": 4242})
    try:
        with pytest.raises(CycleBusy, match="pid 4242"):
            CycleRunner(DataPaths(home)).start("api")
    finally:
        lock.release()


def test_stop_interrupts_the_child_cleanly(home, monkeypatch):
    monkeypatch.setenv(PIPELINE_ENV, f"{THIS_FILE}:slow_pipeline")
    runner = CycleRunner(DataPaths(home), stop_timeout=20)
    handle = runner.start("api")
    deadline = time.monotonic() + 30
    while True:  # wait until the child has started its cycle (imports take a while on a busy machine)
        with open_data_dir(home) as dd, dd.db.read() as s:
            if cycles.active_cycle(s) is not None:
                break
        assert time.monotonic() < deadline and not handle.done.is_set()
        time.sleep(0.05)
    runner.stop()
    assert handle.wait(5) and handle.result is None and "interrupted" in handle.error
    with open_data_dir(home) as dd, dd.db.read() as s:
        c = cycles.list_cycles(s, limit=1)[0]
        assert c.status == "failed" and "interrupted" in c.error
    assert wait_for_lock_free(DataPaths(home), 5)
    with pytest.raises(CycleBusy):
        runner.start("api")  # a stopped runner takes no new cycles


def test_the_daemon_keeps_answering_during_a_cycle_and_stops_it_on_sigterm(tiny_checkpoint, tmp_path):
    from daemon.process import ServerProcess

    home = tmp_path / "served"
    init_data_dir(home, model_path=tiny_checkpoint)
    env = {PIPELINE_ENV: f"{THIS_FILE}:slow_pipeline"}
    with ServerProcess(home, env=env).start() as srv:
        r = httpx.post(srv.url + "/v1/sleep", headers=srv.headers)
        assert r.status_code == 202
        child = r.json()["pid"]
        assert httpx.post(srv.url + "/v1/sleep", headers=srv.headers).status_code == 409
        body = {"conversation_id": "during", "messages": [{"role": "user", "content": "still here"}]}
        assert httpx.post(srv.url + "/v1/interactions", json=body, headers=srv.headers).status_code == 201
        assert httpx.get(srv.url + "/health").status_code == 200
        nice = int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[16])
        assert nice >= 10
        deadline = time.monotonic() + 30
        while httpx.get(srv.url + "/v1/sleep", headers=srv.headers).json()["last_cycle"] is None:
            assert time.monotonic() < deadline, "the cycle child never started its cycle"
            time.sleep(0.1)
        assert srv.stop(signal.SIGTERM, timeout=60) == 0
    assert not Path(f"/proc/{child}").exists()
    with open_data_dir(home) as dd, dd.db.read() as s:
        c = cycles.list_cycles(s, limit=1)[0]
        assert c.status == "failed" and "interrupted" in c.error
        assert [m.content for m in memlog.get_conversation(s, "during").messages] == ["still here"]
