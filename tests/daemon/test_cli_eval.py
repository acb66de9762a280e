"""`sleepd eval run` and `sleepd eval report` on a real data directory (a night with nothing worth keeping
is skipped, and still writes its report), through the real entry point's exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cycle import PIPELINE_ENV, run_cycle
from daemon.init import init_data_dir, open_data_dir
from memory import log as memlog

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "tiny-rwkv7" / "model.safetensors"


def sleepd(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--data-dir", str(home), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(PIPELINE_ENV, raising=False)
        d = tmp_path_factory.mktemp("eval") / "home"
        init_data_dir(d, model_path=FIXTURE)
        with open_data_dir(d) as dd, dd.db.write() as s:
            memlog.add_interaction(
                s,
                {
                    "conversation_id": "c1",
                    "messages": [
                        {"role": "user", "content": "What's a good name for a sourdough starter?"},
                        {"role": "assistant", "content": "I don't know."},
                    ],
                },
            )
        run_cycle(d, "manual")
    return d


def test_report_prints_a_cycle_report_and_the_history_report(home):
    one = sleepd(home, "eval", "report", "--cycle", "1", "--json")
    assert one.returncode == 0, one.stderr
    data = json.loads(one.stdout)
    assert data["path"].endswith("report.html") and Path(data["path"]).is_file()
    assert data["status"] == "skipped"
    every = sleepd(home, "eval", "report", "--all")
    assert every.returncode == 0, every.stderr
    path = Path(every.stdout.strip())
    assert path == home / "reports" / "history.html" and path.is_file()


def test_bad_ids_exit_2_with_one_line(home):
    for args in (
        ["eval", "report", "--cycle", "99"],
        ["eval", "report"],
        ["eval", "run", "--generation", "42"],
    ):
        res = sleepd(home, *args)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


def test_run_reevaluates_a_generation_on_todays_suites(home):
    res = sleepd(home, "eval", "run", "--generation", "0", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["generation_id"] == 0 and set(out["gates"]) >= {"general", "abstention", "leak", "sanity"}
    assert out["measurements"]["never_taught_questions"] == 48
    assert Path(out["path"]).is_file()
