"""State-tuning throughput of the tuner's own training step, against the fp32 FLOP limit, in one run.

    python bench/tune.py --json [--shape 0.1b|default|both] [--batch 8] [--tokens 128] [--steps 5]

A step is exactly what the tuner runs: the student reads a batch from the trainable initial state, the
loss is the KL to cached top-k teacher targets at every position (so the head runs on every token, which
is what the FLOP model assumes), and backward reaches the state only (weights frozen, no weight gradients).
Limit = measured fp32 matmul FLOP/s / (4 x non-embedding parameters, head included).
Prints {"shape", "tokens_per_s", "flop_limit_tokens_per_s", "fraction_of_limit",
"night_minutes_for_20k_tokens_x10_epochs"} per shape.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

import torch

from bench.common import emit, machine, matmul_flops, set_threads, timeit
from model.config import RWKV7Config
from model.random_init import random_model
from tuner.losses import distill_kl
from tuner.teacher import Target, sparse_targets
from tuner.tune import StateParams

SHAPES = {
    "0.1b": RWKV7Config(vocab_size=65536, n_embd=768, n_layer=12, d_decay=64, d_aaa=64, d_mv=32, d_gate=128),
}


def default_shape() -> RWKV7Config:
    try:
        from model.checkpoint import inspect_checkpoint
        from model.default_model import default_model_path

        return inspect_checkpoint(default_model_path()).config
    except FileNotFoundError:  # before the default model is trained: the recipe's shape
        from pretrain.recipe import PretrainConfig

        return PretrainConfig().model_config()


def measure(cfg: RWKV7Config, batch: int, tokens: int, steps: int, flops: float) -> dict:
    model = random_model(cfg, seed=0)
    g = torch.Generator().manual_seed(0)
    seqs = torch.randint(1, cfg.vocab_size, (batch, tokens + 1), generator=g)
    with torch.no_grad():  # teacher targets: computed once per night, not part of a step
        logits, _ = model(seqs[:, :-1])
    targets = []
    for b in range(batch):
        idx, logp, rest = sparse_targets(logits[b], 64)
        targets.append(Target(seqs[b].tolist(), 1, idx, logp, rest))
    del logits
    params = StateParams(model, model.zero_state(1), tune_att_shift=False)
    opt = torch.optim.Adam(params.parameters(), lr=0.1)

    def step():
        loss = distill_kl(model, targets, params.student_state())
        opt.zero_grad()
        loss.backward()
        opt.step()

    secs = timeit(step, repeats=steps, warmup=1)
    tps = batch * tokens / secs
    limit = flops / (4 * cfg.n_params(include_embedding=False))
    return {
        "shape": f"L{cfg.n_layer}-C{cfg.n_embd}-V{cfg.vocab_size}",
        "batch": batch,
        "tokens_per_sequence": tokens,
        "tokens_per_s": round(tps, 1),
        "flop_limit_tokens_per_s": round(limit, 1),
        "fraction_of_limit": round(tps / limit, 3),
        "night_minutes_for_20k_tokens_x10_epochs": round(200_000 / tps / 60, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--shape", choices=["0.1b", "default", "both"], default="both")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    set_threads(args.threads)
    flops = matmul_flops()
    shapes = {"0.1b": SHAPES["0.1b"], "default": None}
    names = ["0.1b", "default"] if args.shape == "both" else [args.shape]
    results = {}
    for name in names:
        cfg = shapes[name] if shapes[name] is not None else default_shape()
        results[name] = measure(cfg, args.batch, args.tokens, args.steps, flops)
    emit({"matmul_gflop_per_s": round(flops / 1e9, 1), **results, "machine": machine()}, args.json)


if __name__ == "__main__":
    main()
