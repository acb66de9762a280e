"""How the in-context removal rate at initialisation decides what a small RWKV-7 learns first.

    python bench/init_ablation.py --json [--steps 1000] [--seeds 3]

A 2-layer, C128 RWKV-7 on two synthetic in-context tasks, same seeds and data for every initialisation:
  copy:   a random 16-token sequence (vocabulary 256), a separator, the same sequence again; loss on the
          second copy (what the pretraining recipe's passages read twice teach);
  recall: 8 key-value pairs (200 keys, 200 values), then the 8 keys again in a new order; loss on the
          values (associative recall: what the persona chats' questions need).
Initialisations (pretrain.recipe.init_for_training, then the removal rate of every channel set):
  reference: a0 = 0 (removal rate 0.5), k_a = 1 (RWKV-LM's training init)
  off:       a0 = -5 (rate ~0.007), k_a = 0 (removal nearly off)
  split:     half the channels of every layer (whole heads) each way
For each task and init it prints, per seed, the first logged step at which the task loss falls below
half of its starting value (null: not within --steps), and the final loss.
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
from pretrain.recipe import init_for_training

INITS = ("reference", "off", "split")
LOG_EVERY = 25


def _model(vocab: int, init: str, seed: int) -> RWKV7:
    torch.manual_seed(seed)
    cfg = RWKV7Config(vocab_size=vocab, n_embd=128, n_layer=2, d_decay=16, d_aaa=16, d_mv=8, d_gate=32)
    model = RWKV7(cfg)
    init_for_training(model, seed)
    off = {"reference": slice(0, 0), "off": slice(0, None), "split": slice(cfg.n_embd // 2, None)}[init]
    with torch.no_grad():
        for b in model.blocks:
            b.att.a0[..., off] = -5.0
            b.att.k_a[..., off] = 0.0
    return model.train()


def _copy_batch(g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randint(2, 258, (32, 16), generator=g)
    seq = torch.cat([x, torch.ones(32, 1, dtype=torch.long), x], 1)
    mask = torch.zeros(32, seq.shape[1] - 1)
    mask[:, 16:] = 1.0  # predictions of the second copy
    return seq, mask


def _recall_batch(g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    B, n = 32, 8
    keys = torch.stack([torch.randperm(200, generator=g)[:n] for _ in range(B)]) + 1
    vals = torch.randint(0, 200, (B, n), generator=g) + 201
    order = torch.stack([torch.randperm(n, generator=g) for _ in range(B)])
    pairs = torch.stack([keys, vals], 2).view(B, 2 * n)
    queries = torch.stack([keys.gather(1, order), vals.gather(1, order)], 2).view(B, 2 * n)
    seq = torch.cat([pairs, queries], 1)
    mask = torch.zeros(B, seq.shape[1] - 1)
    mask[:, 2 * n :: 2] = 1.0  # predictions of the queried values
    return seq, mask


TASKS = {"copy": (_copy_batch, 258), "recall": (_recall_batch, 401)}


def curve(task: str, init: str, steps: int, seed: int) -> list[float]:
    make_batch, vocab = TASKS[task]
    model = _model(vocab, init, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    out = []
    for step in range(steps + 1):
        seq, mask = make_batch(g)
        logits, _ = model(seq[:, :-1])
        nll = F.cross_entropy(logits.reshape(-1, vocab), seq[:, 1:].reshape(-1), reduction="none")
        loss = (nll.view_as(mask) * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % LOG_EVERY == 0:
            out.append(round(loss.item(), 3))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)
    result: dict = {
        "model": "RWKV-7 L2 C128 (2 heads of 64), batch 32, AdamW lr 3e-3",
        "uniform_loss": {"copy": round(math.log(256), 3), "recall": round(math.log(200), 3)},
        "log_every": LOG_EVERY,
    }
    for task in TASKS:
        for init in INITS:
            learnt_at, final = [], []
            for seed in range(args.seeds):
                c = curve(task, init, args.steps, seed)
                below = [i * LOG_EVERY for i, x in enumerate(c) if x < c[0] / 2]
                learnt_at.append(below[0] if below else None)
                final.append(c[-1])
            result[f"{task}_{init}"] = {"learnt_at_step": learnt_at, "final_loss": final}
    result["machine"] = machine()
    emit(result, args.json)


if __name__ == "__main__":
    main()
