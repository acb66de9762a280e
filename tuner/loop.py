"""The night's training loop, shared by state tuning and LoRA.

- Budgets: a step count, a token budget, a wall-clock budget and a deadline ("06:00"); training stops at
  the first one reached (before a step that would overrun it) and returns the best snapshot so far,
  judged on a held-aside validation set of queries.
- Checkpoints every N steps (atomic). A later run with the same inputs resumes from the checkpoint.
- Deterministic: batch composition at step s depends only on (seed, s), so a resumed run replays exactly
  the batches an uninterrupted run would have used.
- Progress: JSON lines to `tune.log` in the work directory (and the `log` callback); a rich progress bar
  when stderr is a terminal.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from model.fileio import atomic_write_with
from model.rwkv7 import RWKV7
from model.state import State
from model.tokenizer import TrieTokenizer
from tuner.config import TunerConfig
from tuner.losses import distill_kl, lm_loss
from tuner.teacher import Target

KILL_ENV = "SLEEPD_TUNE_KILL_AT"  # fault injection: SIGKILL right after this (1-based) step
VAL_ANCHOR_WINDOWS = 8  # fixed anchor windows in the validation objective
VAL_NEGATIVES = 16  # fixed negative questions in the validation objective


def spread(targets: list[Target], n: int) -> list[Target]:
    """At most n targets evenly spaced through the list (the replay targets come grouped by item, so the
    first n would all be about one earlier fact)."""
    if n >= len(targets):
        return list(targets)
    return [targets[i * len(targets) // n] for i in range(n)]


class Trainable(Protocol):
    """What the loop optimises: a state parameterisation or LoRA adapters."""

    def parameters(self) -> list[torch.nn.Parameter]: ...
    def student_model(self) -> RWKV7: ...
    def student_state(self) -> State: ...
    def snapshot(self) -> dict[str, torch.Tensor]: ...
    def restore(self, snap: dict[str, torch.Tensor]) -> None: ...


@dataclass
class LoopInputs:
    model: RWKV7  # the frozen base model (teacher); the student comes from the Trainable
    tokenizer: TrieTokenizer
    train: list[Target]  # tonight's queries
    replay: list[Target]  # earlier memories' queries
    val: list[Target]  # held aside for choosing the best snapshot
    anchor: list[Target]  # general-text windows with base-model targets
    lm_sequences: list[list[int]]  # the kept text, for the LM term
    fingerprint: str  # identifies inputs + config; a checkpoint only resumes the same run
    negative: list[Target] = field(default_factory=list)  # questions whose answer is "I don't know."


@dataclass
class LoopResult:
    best: dict[str, torch.Tensor]
    best_step: int
    best_val: float
    steps: int
    tokens: int
    seconds: float
    stopped_by: str  # "steps" | "tokens" | "time" | "deadline"
    resumed_from: int | None
    history: list[dict[str, Any]] = field(default_factory=list)


def deadline_seconds(deadline: str | None, now: dt.datetime) -> float | None:
    """Seconds from `now` to the next local HH:MM."""
    if not deadline:
        return None
    hh, mm = (int(x) for x in deadline.split(":"))
    target = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if target <= now:
        target += dt.timedelta(days=1)
    return (target - now).total_seconds()


def lr_at(step: int, total: int, cfg: TunerConfig, base_lr: float) -> float:
    if step < cfg.warmup_steps:
        return base_lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    low = base_lr * cfg.lr_final_ratio
    return low + 0.5 * (base_lr - low) * (1 + math.cos(math.pi * progress))


def _sample(pool: list[Target], n: int, rng: random.Random) -> list[Target]:
    if not pool or n <= 0:
        return []
    return [pool[rng.randrange(len(pool))] for _ in range(n)]


class TrainingLoop:
    def __init__(
        self,
        inputs: LoopInputs,
        trainable: Trainable,
        cfg: TunerConfig,
        work_dir: Path,
        *,
        lr: float,
        log: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = dt.datetime.now,
        budget_start: float | None = None,
    ) -> None:
        self.x, self.t, self.cfg, self.dir = inputs, trainable, cfg, work_dir
        self.lr = lr
        self.clock, self.now = clock, now
        # The wall-clock budget covers the whole tune() call (teacher targets included), not just the loop.
        self.budget_start = budget_start
        self.dir.mkdir(parents=True, exist_ok=True)
        self._log_cb = log
        self.ckpt_path = self.dir / "tune-checkpoint.pt"
        # The questions each item answers (tonight's and replayed), for pairing with its negatives.
        self._positives: dict[int, list[Target]] = {}
        for t in inputs.train + inputs.replay:
            self._positives.setdefault(t.item_id, []).append(t)

    # ---- logging -------------------------------------------------------------------------------------
    def log(self, event: dict[str, Any]) -> None:
        event = {"ts": self.now().isoformat(timespec="seconds"), **event}
        with open(self.dir / "tune.log", "a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")
        if self._log_cb:
            self._log_cb(event)

    # ---- losses ----------------------------------------------------------------------------------------
    def batch_loss(self, step: int) -> tuple[torch.Tensor, int, dict[str, float]]:
        cfg, w = self.cfg, self.cfg.objectives
        rng = random.Random(f"{cfg.seed}:{step}")
        n_replay = round(cfg.batch_size * cfg.replay_fraction) if self.x.replay else 0
        n_neg = round(cfg.batch_size * cfg.negative_fraction) if self.x.negative and w.negative else 0
        n_new = cfg.batch_size - n_replay - n_neg if self.x.train else 0
        new, old = _sample(self.x.train, n_new, rng), _sample(self.x.replay, n_replay, rng)
        neg = _sample(self.x.negative, n_neg, rng)
        if cfg.pair_negatives:  # each "I don't know." next to a question its item does answer
            for t in neg:
                mates = self._positives.get(t.item_id)
                if mates:
                    (old if mates[0].replay else new).append(mates[rng.randrange(len(mates))])
        state = self.t.student_state()
        total = torch.zeros(())
        parts: dict[str, float] = {}
        tokens = 0
        if new and w.distill:
            loss = distill_kl(self.t.student_model(), new, state)
            total = total + w.distill * loss
            parts["distill"] = loss.item()
            tokens += sum(len(t.student_ids) for t in new)
        if old and w.replay:
            loss = distill_kl(self.t.student_model(), old, state)
            total = total + w.replay * loss
            parts["replay"] = loss.item()
            tokens += sum(len(t.student_ids) for t in old)
        if neg:
            loss = distill_kl(self.t.student_model(), neg, state)
            total = total + w.negative * loss
            parts["negative"] = loss.item()
            tokens += sum(len(t.student_ids) for t in neg)
        if self.x.lm_sequences and w.lm:
            seqs = [self.x.lm_sequences[rng.randrange(len(self.x.lm_sequences))] for _ in range(2)]
            loss = lm_loss(self.t.student_model(), seqs, state)
            total = total + w.lm * loss
            parts["lm"] = loss.item()
            tokens += sum(len(s) for s in seqs)
        if self.x.anchor and w.anchor and step % cfg.anchor_every == 0:
            windows = _sample(self.x.anchor, cfg.anchor_batch, rng)
            loss = distill_kl(self.t.student_model(), windows, state)
            total = total + w.anchor * loss
            parts["anchor"] = loss.item()
            tokens += sum(len(t.student_ids) for t in windows)
        return total, tokens, parts

    @torch.no_grad()
    def val_loss(self) -> float:
        """The training objective on held-aside material: distillation on validation queries, plus the
        anchor on a fixed set of windows, the negatives, earlier nights' questions (`val_replay`) and the LM
        term on the kept text, with the config's weights."""
        w = self.cfg.objectives
        state = self.t.student_state()
        total = 0.0
        if self.x.val and w.distill:
            total += w.distill * self._mean_kl(self.x.val, state)
        if self.x.anchor and w.anchor:
            total += (
                w.anchor
                * distill_kl(self.t.student_model(), self.x.anchor[:VAL_ANCHOR_WINDOWS], state).item()
            )
        if self.x.negative and w.negative:
            neg = self.x.negative[:VAL_NEGATIVES]
            total += w.negative * distill_kl(self.t.student_model(), neg, state).item()
        if self.x.replay and w.replay and self.cfg.val_replay > 0:
            total += w.replay * self._mean_kl(spread(self.x.replay, self.cfg.val_replay), state)
        if self.x.lm_sequences and w.lm:
            total += w.lm * lm_loss(self.t.student_model(), self.x.lm_sequences, state).item()
        return total

    def _mean_kl(self, targets: list[Target], state: State, chunk: int = 16) -> float:
        """Mean distillation loss over targets, `chunk` at a time (bounded memory)."""
        kl = 0.0
        for i in range(0, len(targets), chunk):
            part = targets[i : i + chunk]
            kl += distill_kl(self.t.student_model(), part, state).item() * len(part)
        return kl / len(targets)

    # ---- checkpoints ---------------------------------------------------------------------------------
    def save_checkpoint(self, step: int, opt: torch.optim.Optimizer, best: dict, meta: dict) -> None:
        payload = {
            "fingerprint": self.x.fingerprint,
            "step": step,
            "snapshot": self.t.snapshot(),
            "best_snapshot": best,
            "optimizer": opt.state_dict(),
            **meta,
        }
        atomic_write_with(self.ckpt_path, lambda tmp: torch.save(payload, tmp))

    def load_checkpoint(self) -> dict | None:
        if not self.ckpt_path.is_file():
            return None
        try:
            payload = torch.load(self.ckpt_path, weights_only=True)
        except Exception as e:  # a torn or foreign file: start over, loudly
            self.log({"event": "checkpoint_unreadable", "error": str(e).splitlines()[0]})
            return None
        if payload.get("fingerprint") != self.x.fingerprint:
            self.log({"event": "checkpoint_ignored", "reason": "inputs or config changed"})
            return None
        return payload

    # ---- the loop --------------------------------------------------------------------------------------
    def run(self) -> LoopResult:
        cfg = self.cfg
        torch.set_num_threads(cfg.torch_threads())
        params = self.t.parameters()
        opt = torch.optim.Adam(params, lr=self.lr, betas=cfg.betas, eps=1e-8)
        start_step, tokens, elapsed_before = 0, 0, 0.0
        best = self.t.snapshot()
        best_val, best_step = float("inf"), 0
        history: list[dict[str, Any]] = []
        resumed_from = None
        ckpt = self.load_checkpoint()
        if ckpt is not None:
            self.t.restore(ckpt["snapshot"])
            opt.load_state_dict(ckpt["optimizer"])
            best = ckpt["best_snapshot"]
            start_step, tokens = ckpt["step"], ckpt["tokens"]
            best_val, best_step = ckpt["best_val"], ckpt["best_step"]
            elapsed_before, history = ckpt["elapsed"], json.loads(ckpt["history"])
            resumed_from = start_step
            self.log({"event": "resumed", "step": start_step})

        t0 = self.budget_start if self.budget_start is not None else self.clock()
        deadline = deadline_seconds(cfg.deadline, self.now())
        stopped_by = "steps"
        step_times: list[float] = []
        progress = _progress(cfg.steps, start_step)
        step = start_step
        for step in range(start_step, cfg.steps):
            elapsed = elapsed_before + self.clock() - t0
            next_step = sum(step_times[-5:]) / len(step_times[-5:]) if step_times else 0.0
            if cfg.max_tokens is not None and tokens >= cfg.max_tokens:
                stopped_by = "tokens"
                break
            if cfg.max_seconds is not None and elapsed + next_step > cfg.max_seconds:
                stopped_by = "time"
                break
            if deadline is not None and self.clock() - t0 + next_step > deadline:
                stopped_by = "deadline"
                break
            s0 = self.clock()
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg.steps, cfg, self.lr)
            loss, n_tok, parts = self.batch_loss(step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tokens += n_tok
            step_times.append(self.clock() - s0)
            done = step + 1
            if os.environ.get(KILL_ENV) == str(done):  # crash tests: die as if the machine lost power
                os.kill(os.getpid(), signal.SIGKILL)
            if done % cfg.eval_every == 0 or done == cfg.steps:
                val = self.val_loss()
                if val < best_val:
                    best_val, best_step, best = val, done, self.t.snapshot()
                event = {"event": "eval", "step": done, "val_loss": round(val, 5), "best_step": best_step}
                history.append(event)
                self.log(event)
            if done % 5 == 0 or done == cfg.steps:
                self.log(
                    {
                        "event": "step",
                        "step": done,
                        "loss": round(loss.item(), 5),
                        "tokens": tokens,
                        **{k: round(v, 5) for k, v in parts.items()},
                    }
                )
            if done % cfg.checkpoint_every == 0:
                self.save_checkpoint(
                    done,
                    opt,
                    best,
                    {
                        "tokens": tokens,
                        "best_val": best_val,
                        "best_step": best_step,
                        "elapsed": elapsed_before + self.clock() - t0,
                        "history": json.dumps(history),
                    },
                )
            if progress:
                progress.advance(loss.item())
        else:
            step = cfg.steps
        if progress:
            progress.close()
        if best_step == 0 and step > 0:  # budget hit before the first evaluation: judge the latest state
            val = self.val_loss()
            if not val > best_val:
                best_val, best_step, best = val, step, self.t.snapshot()
        seconds = elapsed_before + self.clock() - t0
        self.log(
            {
                "event": "done",
                "steps": step,
                "tokens": tokens,
                "seconds": round(seconds, 2),
                "stopped_by": stopped_by,
                "best_step": best_step,
                "best_val": best_val,
            }
        )
        return LoopResult(best, best_step, best_val, step, tokens, seconds, stopped_by, resumed_from, history)


class _Progress:
    def __init__(self, total: int, start: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.p = Progress(
            TextColumn("tuning"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeRemainingColumn(),
            transient=True,
        )
        self.p.start()
        self.task = self.p.add_task("tune", total=total, completed=start, loss="-")

    def advance(self, loss: float) -> None:
        self.p.update(self.task, advance=1, loss=f"{loss:.4f}")

    def close(self) -> None:
        self.p.stop()


def _progress(total: int, start: int) -> _Progress | None:
    return _Progress(total, start) if sys.stderr.isatty() else None
