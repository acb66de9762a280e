"""The systemd user unit: its content, install/uninstall into a directory the test chooses, and status.
systemctl is never run here (systemd is not PID 1 in the test environment): a recording runner stands in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import tiny_base

from daemon import systemd_unit
from daemon.init import init_data_dir
from memory.errors import InputError


class Recorder:
    def __init__(self, returncode=0, stdout="", stderr=""):
        self.calls = []
        self.result = (returncode, stdout, stderr)

    def __call__(self, args):
        self.calls.append(list(args))
        code, out, err = self.result
        return subprocess.CompletedProcess(["systemctl", "--user", *args], code, out, err)


def unit_lines(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_the_unit_is_a_notify_service_with_watchdog_and_restart(tmp_path):
    spec = systemd_unit.UnitSpec(executable=Path("/opt/sleepd/bin/sleepd"), data_dir=tmp_path / "data")
    lines = unit_lines(systemd_unit.render_unit(spec))
    for want in (
        "Type=notify",
        "NotifyAccess=main",
        "Restart=on-failure",
        "WatchdogSec=30",
        "KillMode=mixed",
        "Environment=HF_HUB_OFFLINE=1",
        "WantedBy=default.target",
        f"ExecStart=/opt/sleepd/bin/sleepd --data-dir {tmp_path / 'data'} serve",
    ):
        assert want in lines


def test_exec_start_quotes_odd_paths():
    spec = systemd_unit.UnitSpec(executable=Path("/opt/my apps/sleepd"), data_dir=Path('/home/a "b"/100%/$x'))
    exec_start = next(x for x in systemd_unit.render_unit(spec).splitlines() if x.startswith("ExecStart="))
    assert exec_start == 'ExecStart="/opt/my apps/sleepd" --data-dir "/home/a \\"b\\"/100%%/$$x" serve'


def test_install_reinstall_uninstall(tmp_path):
    units = tmp_path / "units"
    res = systemd_unit.install(tmp_path / "data", unit_dir=units, executable="/usr/bin/sleepd")
    path = units / systemd_unit.UNIT_NAME
    assert res == {"path": str(path), "changed": True, "enabled": False, "messages": []}
    assert "Type=notify" in path.read_text()
    assert (
        systemd_unit.install(tmp_path / "data", unit_dir=units, executable="/usr/bin/sleepd")["changed"]
        is False
    )
    st = systemd_unit.status(unit_dir=units, booted=lambda: False)
    assert st["installed"] and st["exec_start"].startswith("/usr/bin/sleepd --data-dir")
    assert st["systemd"]["available"] is False and "not running here" in st["systemd"]["error"]
    assert systemd_unit.uninstall(unit_dir=units)["removed"] is True
    assert not path.exists()
    assert systemd_unit.uninstall(unit_dir=units)["removed"] is False


def test_a_unit_sleepd_did_not_write_is_left_alone(tmp_path):
    units = tmp_path / "units"
    units.mkdir()
    (units / systemd_unit.UNIT_NAME).write_text("[Service]\nExecStart=/bin/true\n")
    with pytest.raises(InputError, match="not written by sleepd"):
        systemd_unit.install(tmp_path / "data", unit_dir=units, executable="/usr/bin/sleepd")
    with pytest.raises(InputError, match="not written by sleepd"):
        systemd_unit.uninstall(unit_dir=units)
    assert (units / systemd_unit.UNIT_NAME).read_text() == "[Service]\nExecStart=/bin/true\n"


def test_enable_runs_systemctl_and_reports_failures(tmp_path):
    ok = Recorder()
    res = systemd_unit.install(
        tmp_path / "d", unit_dir=tmp_path / "u", executable="/x/sleepd", enable=True, run=ok
    )
    assert res["enabled"] is True
    assert ok.calls == [["daemon-reload"], ["enable", "--now", "sleepd.service"]]
    bad = Recorder(1, stderr="Failed to connect to bus: No medium found")
    res = systemd_unit.install(
        tmp_path / "d", unit_dir=tmp_path / "u", executable="/x/sleepd", enable=True, run=bad
    )
    assert res["enabled"] is False and "Failed to connect to bus" in res["messages"][0]


def test_status_asks_systemd_when_it_runs(tmp_path):
    active = Recorder(0, stdout="active\n")
    st = systemd_unit.status(unit_dir=tmp_path, run=active, booted=lambda: True)
    assert st["systemd"]["available"] and st["systemd"]["active"] == "active"
    no_bus = Recorder(1, stderr="Failed to connect to bus: $DBUS_SESSION_BUS_ADDRESS not set")
    st = systemd_unit.status(unit_dir=tmp_path, run=no_bus, booted=lambda: True)
    assert not st["systemd"]["available"] and "Failed to connect to bus" in st["systemd"]["error"]


def test_cli_install_status_uninstall(tmp_path):
    home = tmp_path / "home"
    init_data_dir(home, inspect=lambda p: tiny_base())
    units = tmp_path / "units"

    def sleepd(*args):
        return subprocess.run(
            [sys.executable, "-m", "daemon.cli", *args], capture_output=True, text=True, env=dict(os.environ)
        )

    res = sleepd("service", "install", "--unit-dir", str(units), "--data-dir", str(home), "--json")
    assert res.returncode == 0, res.stderr
    text = (units / systemd_unit.UNIT_NAME).read_text()
    assert f"--data-dir {home} serve" in text and Path(text.split("ExecStart=")[1].split()[0]).is_absolute()
    if not systemd_unit.systemd_booted():  # never ask a real systemd from a test
        st = json.loads(sleepd("service", "status", "--unit-dir", str(units), "--json").stdout)
        assert st["installed"] and st["systemd"]["available"] is False
    res = sleepd("service", "uninstall", "--unit-dir", str(units))
    assert res.returncode == 0 and "removed" in res.stdout
    missing = sleepd("service", "install", "--unit-dir", str(units), "--data-dir", str(tmp_path / "none"))
    assert missing.returncode == 2 and "sleepd init" in missing.stderr
