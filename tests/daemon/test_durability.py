"""No acknowledged interaction is ever lost: clients post interactions while the server is SIGKILLed at random
moments and restarted. Every interaction that got a 2xx is in the database afterwards, and SQLite's
integrity check passes. Clients retry what failed with the same message ids, which the log deduplicates."""

from __future__ import annotations

import dataclasses
import itertools
import random
import socket
import sqlite3
import threading
import time

import httpx

from daemon.config import load_config, write_config
from daemon.init import init_data_dir, open_data_dir, read_token
from daemon.paths import DataPaths
from daemon.process import ServerProcess
from memory.schema import Message

TARGET = 1000
KILLS = 4
CLIENTS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_acknowledged_interactions_survive_sigkill(tmp_path, tiny_checkpoint):
    ckpt = tiny_checkpoint
    home = tmp_path / "home"
    init_data_dir(home, model_path=ckpt)
    cfg = load_config(home / "config.toml")
    write_config(
        home / "config.toml",
        dataclasses.replace(cfg, scheduler=dataclasses.replace(cfg.scheduler, enabled=False)),
        overwrite=True,
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {read_token(DataPaths(home))}"}
    acked: list[str] = []
    attempts = itertools.count()
    failures = itertools.count()
    lock = threading.Lock()
    stop = threading.Event()
    numbers = itertools.count()

    errors: list[str] = []

    def client() -> None:
        try:
            post_until_stopped()
        except BaseException as e:  # a failed assertion in a thread must fail the test
            errors.append(repr(e))

    def post_until_stopped() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=5.0) as http:
            while not stop.is_set():
                i = next(numbers)
                body = {
                    "conversation_id": f"dur-{i}",
                    "messages": [{"id": f"m-{i}", "role": "user", "content": f"fact number {i}"}],
                }
                while not stop.is_set():  # retry the same interaction until acknowledged
                    next(attempts)
                    try:
                        r = http.post("/v1/interactions", json=body)
                    except httpx.HTTPError:
                        next(failures)
                        time.sleep(0.05)
                        continue
                    if 200 <= r.status_code < 300:
                        assert r.json() == {"conversation_id": f"dur-{i}", "message_ids": [f"m-{i}"]}
                        with lock:
                            acked.append(f"dur-{i}")
                        break
                    assert r.status_code >= 500, r.text  # only a dying server may refuse
                    time.sleep(0.05)

    rng = random.Random(1234)
    srv = ServerProcess(home, port=port).start()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 1.2))
            srv.kill()  # SIGKILL: no shutdown code runs
            srv = ServerProcess(home, port=port).start()
        while len(acked) < TARGET and time.monotonic() - started < 50:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        srv.kill()
    assert errors == []
    assert len(acked) >= TARGET, f"only {len(acked)} acknowledged"
    assert next(failures) > 0, "no request was interrupted by a kill; the test proved nothing"

    db_path = home / "sleepd.db"
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    with open_data_dir(home) as dd, dd.db.read() as s:
        stored = {
            cid for (cid,) in s.query(Message.conversation_id).filter(Message.conversation_id.like("dur-%"))
        }
        per_conversation = (
            s.query(Message.conversation_id).filter(Message.conversation_id.like("dur-%")).count()
        )
    lost = set(acked) - stored
    assert lost == set(), f"lost {len(lost)} acknowledged interactions"
    assert per_conversation == len(stored)  # retries were deduplicated: one message per conversation
