"""Shared helpers for the benchmarks: timing, machine description, the fp32 matmul FLOP/s reference."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent


def set_threads(n: int) -> None:
    torch.set_num_threads(n)


def timeit(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """Median wall time of `fn` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_flops(n: int = 2048, repeats: int = 5) -> float:
    """Measured fp32 GEMM FLOP/s on this machine with the current thread count."""
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    secs = timeit(lambda: a @ b, repeats=repeats, warmup=2)
    return 2 * n**3 / secs


def machine() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def emit(result: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:>36}: {v}")
