"""Logging throughput of the HTTP API: concurrent clients POST /v1/interactions on loopback.

    python bench/api.py --json [--clients 8] [--requests 4000] [--url URL --token TOKEN]

Without --url it creates a temporary data directory with a tiny random model, starts `sleepd serve` on a
free port, runs the load, stops the server and counts what it acknowledged but did not store ("lost", read
from the database after the server stopped). With --url it measures an existing daemon, and `lost` is
null because its database is not read here.

Each client is a thread with one keep-alive connection (http.client: the lightest client, so that the
measurement is dominated by the server). Every interaction is one conversation with one user message,
the shape of a typical agent log line. Latency is measured per request, from sending to reading the whole
response.

Prints {"clients", "requests", "throughput_per_s", "p50_ms", "p99_ms", "lost", "errors", "machine"}.
Targets (2 CPU cores, client and server on the same machine): >= 500/s, p99 <= 25 ms, lost = 0.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

# Run as a script, bench/ would come first on sys.path and could shadow a package: the repository root first.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def run_load(url: str, token: str, clients: int, requests: int, tag: str) -> dict[str, object]:
    """Post `requests` interactions from `clients` threads; returns latencies, acked ids and errors."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    per_client = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    acked: list[list[str]] = [[] for _ in range(clients)]
    errors = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def client(c: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        barrier.wait()
        for i in range(per_client[c]):
            cid = f"{tag}-{c}-{i}"
            body = json.dumps(
                {
                    "conversation_id": cid,
                    "messages": [
                        {"id": "m0", "role": "user", "content": f"Remember: my locker code is {i:05d}."}
                    ],
                }
            ).encode()
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/v1/interactions", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                errors[c] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                continue
            latencies[c].append(time.perf_counter() - t0)
            if resp.status == 201:
                acked[c].append(cid)
            else:
                errors[c] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    lat = sorted(x for per in latencies for x in per)
    return {
        "wall_s": wall,
        "latencies": lat,
        "acked": [cid for per in acked for cid in per],
        "errors": sum(errors),
    }


def count_lost(data_dir: Path, acked: list[str]) -> int:
    from sqlalchemy import select

    from daemon.init import open_data_dir
    from memory.schema import Message

    with open_data_dir(data_dir) as dd, dd.db.read() as s:
        stored = set(s.scalars(select(Message.conversation_id).where(Message.message_id == "m0")))
    return sum(1 for cid in acked if cid not in stored)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--url", help="measure this running daemon instead of starting one")
    ap.add_argument("--token", help="its bearer token (with --url)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from bench.common import emit, machine

    server = None
    tmp = None
    if args.url:
        if not args.token:
            ap.error("--url needs --token")
        url, token = args.url.rstrip("/"), args.token
    else:
        from daemon.init import init_data_dir
        from daemon.process import ServerProcess
        from model.bundle import write_tiny_checkpoint

        tmp = tempfile.TemporaryDirectory(prefix="sleepd-bench-api-")
        root = Path(tmp.name)
        init_data_dir(root / "home", model_path=write_tiny_checkpoint(root / "model"))
        server = ServerProcess(root / "home", log_path=root / "serve.log").start()
        url, token = server.url, server.token
    try:
        run_load(url, token, args.clients, args.warmup, "warmup")
        res = run_load(url, token, args.clients, args.requests, f"bench-{os.getpid()}")
    finally:
        if server is not None:
            server.stop()
    lat = res["latencies"]
    lost = None
    if server is not None:
        lost = count_lost(server.paths.root, res["acked"])
    result = {
        "clients": args.clients,
        "requests": args.requests,
        "throughput_per_s": round(len(lat) / res["wall_s"], 1),
        "p50_ms": round(percentile(lat, 0.50) * 1e3, 2),
        "p99_ms": round(percentile(lat, 0.99) * 1e3, 2),
        "lost": lost,
        "errors": res["errors"],
        "machine": machine(),
    }
    if tmp is not None:
        tmp.cleanup()
    emit(result, args.json)


if __name__ == "__main__":
    main()
