"""systemd notifications: the Notifier against sockets the test creates (path and abstract namespace), and a
real `sleepd serve` sending READY=1, WATCHDOG=1 and STOPPING=1."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid

import httpx
import pytest

from daemon.init import init_data_dir
from daemon.notify import Notifier
from daemon.process import ServerProcess


def listener(address):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(30)
    return sock


def test_path_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    with listener(path) as sock:
        n = Notifier({"NOTIFY_SOCKET": path})
        assert n.enabled and n.ready("serving generation 0")
        assert sock.recv(4096) == b"READY=1\nSTATUS=serving generation 0"
        assert n.stopping()
        assert sock.recv(4096) == b"STOPPING=1"


def test_abstract_socket():
    name = f"sleepd-test-{uuid.uuid4().hex}"
    with listener(b"\0" + name.encode()) as sock:
        n = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert n.watchdog()
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_without_systemd_nothing_is_sent():
    n = Notifier({})
    assert not n.enabled and not n.ready() and n.watchdog_interval is None


def test_a_vanished_socket_is_not_an_error(tmp_path):
    assert Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}).ready() is False


@pytest.mark.parametrize(
    ("env", "interval"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_sec(env, interval):
    assert Notifier({"NOTIFY_SOCKET": "/run/x.sock", **env}).watchdog_interval == interval


def test_the_daemon_sends_ready_watchdog_and_stopping(tmp_path, tiny_checkpoint):
    ckpt = tiny_checkpoint
    init_data_dir(tmp_path / "home", model_path=ckpt)
    name = f"sleepd-test-{uuid.uuid4().hex}"
    with listener(b"\0" + name.encode()) as sock:
        env = {"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "400000"}
        with ServerProcess(tmp_path / "home", env=env).start() as srv:
            before = []
            while not (msg := sock.recv(4096).decode()).startswith("READY=1"):
                before.append(msg)
            # READY comes once the socket listens (after the model loaded), never a watchdog ping before it.
            assert msg.startswith("READY=1\nSTATUS=serving generation 0 on http://127.0.0.1:")
            assert before == ["STATUS=loading the model"]
            watchdogs = 0
            deadline = time.monotonic() + 10
            while watchdogs < 3 and time.monotonic() < deadline:
                if sock.recv(4096) == b"WATCHDOG=1":
                    watchdogs += 1
            assert watchdogs == 3
            assert httpx.get(srv.url + "/health").status_code == 200
            srv.proc.send_signal(signal.SIGTERM)
            messages = []
            while not any(m.startswith("STOPPING=1") for m in messages):
                messages.append(sock.recv(4096).decode())
            assert srv.proc.wait(30) == 0
        assert "READY=1" not in "".join(messages)
