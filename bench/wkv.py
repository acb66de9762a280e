"""WKV-7 kernel speed: chunked against the sequential reference, in the same run.

    python bench/wkv.py --json [--T 1024] [--heads 12] [--batch 1] [--threads 2]

Prints {"T", "chunked_tokens_per_s", "sequential_tokens_per_s", "speedup", "fwd_bwd_speedup", ...}.
Shape defaults to one layer of the 0.1B model (12 heads of 64), fp32. fwd_bwd = forward plus backward to
every input and the initial state (what state tuning needs). Forward-only inference kernels are timed too:
the chunked kernel's no-graph form and the C kernel (kernels.native), each against the same reference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Run as a script, bench/ would come first on sys.path and bench/model.py would shadow the `model`
# package: put the repository root first instead.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

import torch

from bench.common import emit, machine, set_threads, timeit
from kernels import native
from kernels.chunked import wkv7_chunked, wkv7_chunked_forward
from kernels.dispatch import DEFAULT_CHUNK_LEN
from kernels.reference import wkv7_sequential


def make_inputs(B: int, T: int, H: int, N: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape):
        return torch.randn(*shape, generator=g)

    kk = torch.nn.functional.normalize(rnd(B, T, H, N), dim=-1)
    return [
        rnd(B, T, H, N),
        -0.6065306597 * torch.sigmoid(2 * rnd(B, T, H, N)),
        0.5 * rnd(B, T, H, N),
        rnd(B, T, H, N),
        -kk,
        kk * torch.sigmoid(rnd(B, T, H, N)),
        rnd(B, H, N, N),
    ]


def fwd_bwd(fn, inputs):
    leaves = [x.detach().clone().requires_grad_() for x in inputs]

    def run():
        y, s = fn(*leaves)
        (y.sum() + s.sum()).backward()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--T", type=int, default=1024)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--head-size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=DEFAULT_CHUNK_LEN)
    args = ap.parse_args()
    set_threads(args.threads)
    inputs = make_inputs(args.batch, args.T, args.heads, args.head_size)

    def chunked(*x):
        return wkv7_chunked(*x, chunk_len=args.chunk)

    with torch.no_grad():
        t_chunk = timeit(lambda: chunked(*inputs), repeats=5)
        t_seq = timeit(lambda: wkv7_sequential(*inputs), repeats=3)
        t_fwd = timeit(lambda: wkv7_chunked_forward(*inputs, chunk_len=args.chunk), repeats=5)
        t_native = timeit(lambda: native.wkv7_native(*inputs), repeats=5) if native.available() else None
    t_chunk_fb = timeit(fwd_bwd(chunked, inputs), repeats=5)
    t_seq_fb = timeit(fwd_bwd(wkv7_sequential, inputs), repeats=2)
    tokens = args.batch * args.T
    emit(
        {
            "T": args.T,
            "batch": args.batch,
            "heads": args.heads,
            "head_size": args.head_size,
            "chunk": args.chunk,
            "dtype": "fp32",
            "chunked_tokens_per_s": round(tokens / t_chunk, 1),
            "sequential_tokens_per_s": round(tokens / t_seq, 1),
            "speedup": round(t_seq / t_chunk, 2),
            "chunked_fwd_bwd_tokens_per_s": round(tokens / t_chunk_fb, 1),
            "sequential_fwd_bwd_tokens_per_s": round(tokens / t_seq_fb, 1),
            "fwd_bwd_speedup": round(t_seq_fb / t_chunk_fb, 2),
            "chunked_forward_only_tokens_per_s": round(tokens / t_fwd, 1),
            "native_tokens_per_s": round(tokens / t_native, 1) if t_native else None,
            "native_speedup": round(t_seq / t_native, 2) if t_native else None,
            "machine": machine(),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
