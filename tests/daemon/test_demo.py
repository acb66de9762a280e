"""`sleepd demo`, short: one simulated day and night through a real `sleepd serve` on the embedded default
model, with a small step budget. Checks the --json shape and that the reports exist where --keep put them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from daemon.cycle import PIPELINE_ENV

DAY_KEYS = {"day", "acquisition", "retention", "abstention", "general_bpb", "general_bpb_base", "status"}


def test_a_one_day_demo_prints_the_contract_and_keeps_its_reports(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != PIPELINE_ENV}  # the real night
    keep = tmp_path / "demo"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "daemon.cli",
            "demo",
            "--days",
            "1",
            "--steps",
            "30",
            "--json",
            "--keep",
            str(keep),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert set(out) == {"days", "summary"}
    (day,) = out["days"]
    assert set(day) >= DAY_KEYS and day["day"] == 1
    assert day["status"] in ("promoted", "rejected", "skipped")
    assert day["status"] == "promoted" or day["reason"]  # a rejection says why, in words
    for rate in ("acquisition", "abstention"):
        assert day[rate] is None or 0.0 <= day[rate] <= 1.0
    home = keep / "home"
    assert (home / "reports" / "history.html").is_file()
    assert out["summary"]["report"] == str(home / "reports" / "history.html")
    assert list((home / "cycles").glob("*/report.html"))
    events = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    assert [e["phase"] for e in events if e["event"] == "phase"] == [
        "talking",
        "reflecting, tuning and gating",
        "asking",
    ]


def test_the_demo_refuses_a_data_directory_and_a_used_keep_directory(tmp_path):
    used = tmp_path / "used"
    (used / "home").mkdir(parents=True)
    for args in (["--data-dir", str(tmp_path / "x"), "demo"], ["demo", "--keep", str(used)]):
        res = subprocess.run(
            [sys.executable, "-m", "daemon.cli", *args], capture_output=True, text=True, timeout=120
        )
        assert res.returncode == 2, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
