"""Why the pretraining recipe starts RWKV-7's in-context removal nearly off.

    python bench/init_ablation.py --json [--steps 1000] [--vocab 256] [--length 16]

A 2-layer, C128 RWKV-7 learns to copy a random sequence from its context (x, separator, x; loss on the
second copy). Two initialisations, same seed and data, in one run:
  reference: a0 = 0 (removal rate 0.5), k_a = 1 (RWKV-LM's training init)
  sleepd:    a0 = -5 (rate ~0.007), k_a = 0 (tuner/pretrain.py, INIT_REMOVAL_LOGIT)
Prints the copy-half loss of each every 250 steps; log(vocab) means nothing was learned.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

import torch
import torch.nn.functional as F

from bench.common import emit, machine, set_threads
from model.config import RWKV7Config
from model.rwkv7 import RWKV7
from tuner.pretrain import INIT_REMOVAL_LOGIT, init_for_training


def copy_curve(a0: float, k_a: float, vocab: int, length: int, steps: int, seed: int = 0) -> list[float]:
    torch.manual_seed(seed)
    cfg = RWKV7Config(vocab_size=vocab + 2, n_embd=128, n_layer=2, d_decay=16, d_aaa=16, d_mv=8, d_gate=32)
    model = RWKV7(cfg)
    init_for_training(model, seed)
    with torch.no_grad():
        for b in model.blocks:
            b.att.a0.fill_(a0)
            b.att.k_a.fill_(k_a)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, betas=(0.9, 0.99), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    curve = []
    for step in range(steps + 1):
        x = torch.randint(2, vocab + 2, (32, length), generator=g)
        seq = torch.cat([x, torch.ones(32, 1, dtype=torch.long), x], 1)
        logits, _ = model(seq[:, :-1])
        nll = F.cross_entropy(logits.reshape(-1, vocab + 2), seq[:, 1:].reshape(-1), reduction="none")
        nll = nll.view(32, -1)
        opt.zero_grad()
        nll.mean().backward()
        opt.step()
        if step % 250 == 0:
            curve.append(round(nll[:, length + 1 :].mean().item(), 3))
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--length", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)
    ref = copy_curve(0.0, 1.0, args.vocab, args.length, args.steps)
    ours = copy_curve(INIT_REMOVAL_LOGIT, 0.0, args.vocab, args.length, args.steps)
    emit(
        {
            "task": f"copy {args.length} tokens, vocabulary {args.vocab}, L2 C128, batch 32, lr 2e-3",
            "steps_logged": list(range(0, args.steps + 1, 250)),
            "uniform_loss": round(math.log(args.vocab), 3),
            "reference_init_copy_loss": ref,
            "sleepd_init_copy_loss": ours,
            "machine": machine(),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
