"""One daemon per data directory: a second `sleepd serve` exits 2 naming the holder's pid; a daemon killed
with SIGKILL leaves no stale lock behind; `sleepd status` tells which daemon runs and what it serves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from daemon.init import init_data_dir
from daemon.process import ServerProcess


def sleepd(*args):
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )


def test_second_serve_exits_2_and_a_killed_daemon_can_be_replaced(tmp_path, tiny_checkpoint):
    ckpt = tiny_checkpoint
    home = tmp_path / "home"
    init_data_dir(home, model_path=ckpt)

    status = json.loads(sleepd("status", "--json", "--data-dir", str(home)).stdout)
    assert status["daemon"]["running"] is False and status["scheduler"]["next_run"] is None

    first = ServerProcess(home).start()
    try:
        second = sleepd("--data-dir", str(home), "serve", "--port", "0")
        assert second.returncode == 2
        assert f"already running for {home} (pid {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr

        status = json.loads(sleepd("status", "--json", "--data-dir", str(home)).stdout)
        assert status["daemon"]["running"] is True and status["daemon"]["pid"] == first.pid
        assert status["daemon"]["url"] == first.url
        assert (status["current_generation"], status["served_generation"]) == (0, 0)
        assert status["scheduler"]["next_run"] is not None
        human = sleepd("status", "--data-dir", str(home)).stdout
        assert f"running (pid {first.pid}" in human
    finally:
        first.kill()  # SIGKILL: no cleanup runs, the kernel drops the flock

    replacement = ServerProcess(home).start()
    try:
        status = json.loads(sleepd("status", "--json", "--data-dir", str(home)).stdout)
        assert status["daemon"]["pid"] == replacement.pid
    finally:
        assert replacement.stop(signal.SIGTERM) == 0
    status = json.loads(sleepd("status", "--json", "--data-dir", str(home)).stdout)
    assert status["daemon"]["running"] is False


def test_serve_on_an_uninitialised_dir_is_a_usage_error(tmp_path):
    res = sleepd("--data-dir", str(tmp_path / "nothing"), "serve")
    assert res.returncode == 2 and "sleepd init" in res.stderr and "Traceback" not in res.stderr
