"""`tune()`: turn a night's training set into a candidate memory state (or LoRA adapter).

Weights stay frozen. For state tuning the trainable parameter is the initial WKV state of every layer
([L, 1, H, N, N] fp32, broadcast over the batch so gradients sum), optionally also the att token-shift
vector; the ffn shift keeps its starting value. No weight gradient is ever computed: every weight has
requires_grad=False, so backward stops at activations and the state.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from model.rwkv7 import RWKV7
from model.state import State
from model.tokenizer import TrieTokenizer
from tuner.config import TunerConfig
from tuner.data import TrainingSet
from tuner.loop import LoopInputs, LoopResult, TrainingLoop
from tuner.teacher import Target, anchor_targets, fingerprint, load_targets, query_targets, save_targets
from tuner.verify import verify

ANCHOR_WINDOWS = 64  # general-text windows scored by the base model per night


class NothingLearnable(ValueError):
    """No query survived the teacher check: the model cannot say any of tonight's values from context."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__("not learnable by this model: the teacher answers none of the questions exactly")
        self.report = report


class StateParams:
    """The trainable initial state."""

    def __init__(self, model: RWKV7, start: State, tune_att_shift: bool) -> None:
        self.model = model
        if start.batch_size != 1:
            raise ValueError("the starting state must have batch 1")
        self.wkv = torch.nn.Parameter(start.wkv.detach().clone())  # fp32 (fp64 in gradient checks)
        self.att = torch.nn.Parameter(start.att_shift.detach().clone()) if tune_att_shift else None
        self.att_fixed = start.att_shift.detach().clone()
        self.ffn = start.ffn_shift.detach().clone()

    def parameters(self) -> list[torch.nn.Parameter]:
        return [self.wkv] + ([self.att] if self.att is not None else [])

    def student_model(self) -> RWKV7:
        return self.model

    def student_state(self) -> State:
        return State(self.att if self.att is not None else self.att_fixed, self.wkv, self.ffn)

    def snapshot(self) -> dict[str, torch.Tensor]:
        snap = {"wkv": self.wkv.detach().clone()}
        if self.att is not None:
            snap["att_shift"] = self.att.detach().clone()
        return snap

    def restore(self, snap: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            self.wkv.copy_(snap["wkv"])
            if self.att is not None:
                self.att.copy_(snap["att_shift"])

    def state_from(self, snap: dict[str, torch.Tensor]) -> State:
        att = snap.get("att_shift", self.att_fixed)
        return State(att.clone(), snap["wkv"].clone(), self.ffn.clone())


@dataclass
class TuneResult:
    state: State  # the candidate memory state (for LoRA: the unchanged starting state)
    adapter: dict[str, torch.Tensor] | None  # LoRA weights, or None for state tuning
    loop: LoopResult
    n_train: int
    n_replay: int
    n_val: int
    n_anchor: int
    n_negative: int = 0
    verification: dict[str, Any] = field(default_factory=dict)  # tuner/verify.py: what the teacher said

    def summary(self) -> dict[str, Any]:
        r = self.loop
        return {
            "steps": r.steps,
            "tokens": r.tokens,
            "seconds": round(r.seconds, 2),
            "stopped_by": r.stopped_by,
            "best_step": r.best_step,
            "best_val_kl": r.best_val,
            "resumed_from": r.resumed_from,
            "queries": self.n_train,
            "replay_queries": self.n_replay,
            "val_queries": self.n_val,
            "anchor_windows": self.n_anchor,
            "negative_queries": self.n_negative,
            "verification": self.verification,
        }


def _split_val(targets: list[Target], fraction: float, seed: int) -> tuple[list[Target], list[Target]]:
    """Hold aside whole queries (all their context variants together) for validation; with few queries,
    validate on the training queries themselves (still a fair way to pick the best step)."""
    items = sorted({(t.item_id, tuple(t.student_ids)) for t in targets})
    if len(items) < 10 or fraction <= 0:
        return targets, targets
    rng = random.Random(f"val:{seed}")
    held = set(rng.sample(items, max(1, int(len(items) * fraction))))
    train = [t for t in targets if (t.item_id, tuple(t.student_ids)) not in held]
    val = [t for t in targets if (t.item_id, tuple(t.student_ids)) in held]
    return train, val


def build_inputs(
    model: RWKV7,
    tokenizer: TrieTokenizer,
    base_state: State,
    data: TrainingSet,
    cfg: TunerConfig,
    work_dir: Path,
    model_sha256: str = "",
) -> tuple[LoopInputs, dict[str, Any]]:
    """Teacher and anchor targets, and the verification report that chose them (see tuner/verify.py);
    cached in work_dir, keyed by everything they depend on."""
    data.check()
    key = fingerprint(
        "targets-v2",
        model_sha256,
        cfg.teacher_topk,
        cfg.context_variants,
        cfg.context_items,
        cfg.anchor_tokens,
        cfg.seed,
        [m.__dict__ for m in data.items + data.replay_items],
        [q.__dict__ for q in data.queries + data.replay_queries + data.negatives],
        data.general_texts,
        base_state.wkv.sum().item(),
    )
    cache = work_dir / "teacher-targets.pt"
    loaded = load_targets(cache, key)
    if loaded is None:
        both = data.items + data.replay_items  # a negative may neighbour a replayed item
        tonight = verify(model, tokenizer, data.queries + data.negatives, both, base_state)
        earlier = verify(model, tokenizer, data.replay_queries, data.replay_items, base_state)
        rng = random.Random(f"teacher:{cfg.seed}")
        common = dict(variants=cfg.context_variants, max_items=cfg.context_items, k=cfg.teacher_topk, rng=rng)
        kept = tonight.kept
        targets = {
            "train": query_targets(
                model, tokenizer, [q for q in kept if q.kind != "negative"], data.items, base_state, **common
            ),
            "negative": query_targets(
                model, tokenizer, [q for q in kept if q.kind == "negative"], both, base_state, **common
            ),
            "replay": query_targets(
                model, tokenizer, earlier.kept, data.replay_items, base_state, replay=True, **common
            ),
            "anchor": anchor_targets(
                model,
                tokenizer,
                data.general_texts,
                base_state,
                window=cfg.anchor_tokens,
                count=ANCHOR_WINDOWS,
                k=cfg.teacher_topk,
                rng=rng,
            ),
        }
        report = {
            "tonight": tonight.summary(),
            "replay": earlier.summary(),
            "learnable": {str(i): v for i, v in tonight.learnability().items()},
            "replay_learnable": {str(i): v for i, v in earlier.learnability().items()},
            "not_learnable": tonight.misses(),
        }
        work_dir.mkdir(parents=True, exist_ok=True)
        save_targets(cache, key, targets, report)
    else:
        targets, report = loaded
    train, val = _split_val(targets["train"], cfg.val_fraction, cfg.seed)
    lm = [tokenizer.encode(f"User: {m.text}\n\n") for m in data.items]
    inputs = LoopInputs(
        model=model,
        tokenizer=tokenizer,
        train=train,
        replay=targets["replay"],
        val=val,
        anchor=targets["anchor"],
        lm_sequences=lm,
        fingerprint=fingerprint(key, cfg.to_dict()),
        negative=targets.get("negative", []),
    )
    return inputs, report


def tune(
    model: RWKV7,
    tokenizer: TrieTokenizer,
    start_state: State,
    base_state: State,
    data: TrainingSet,
    cfg: TunerConfig,
    work_dir: str | Path,
    *,
    model_sha256: str = "",
    log: Callable[[dict[str, Any]], None] | None = None,
    clock=None,
    now=None,
) -> TuneResult:
    """Tune a candidate from `start_state` (warm) or `base_state` (rebuild, per cfg.start)."""
    work_dir = Path(work_dir)
    started = (clock or time.monotonic)()
    torch.set_num_threads(cfg.torch_threads())
    model.requires_grad_(False)
    model.eval()
    torch.manual_seed(cfg.seed)
    cfg = replace(cfg, steps=cfg.steps_for(len(data.items)))
    inputs, report = build_inputs(model, tokenizer, base_state, data, cfg, work_dir, model_sha256)
    tonight = report.get("tonight", {})
    unlearnable = bool(tonight.get("values")) and not tonight.get("values_learnable")
    if (not inputs.train and not inputs.replay) or unlearnable:
        # Nothing tonight that the teacher says: training would only teach overrides and abstention.
        raise NothingLearnable(report)
    start = base_state if cfg.start == "rebuild" else start_state
    kw = {k: v for k, v in {"clock": clock, "now": now}.items() if v is not None}
    kw["budget_start"] = started
    if cfg.method == "lora":
        from tuner.lora import LoraParams

        trainable = LoraParams(model, start, cfg)
        loop = TrainingLoop(inputs, trainable, cfg, work_dir, lr=cfg.lora_lr, log=log, **kw)
        result = loop.run()
        trainable.restore(result.best)
        counts = (len(inputs.train), len(inputs.replay), len(inputs.val), len(inputs.anchor))
        return TuneResult(
            start.clone(), trainable.adapter_state(), result, *counts, len(inputs.negative), report
        )
    params = StateParams(model, start, cfg.tune_att_shift)
    loop = TrainingLoop(inputs, params, cfg, work_dir, lr=cfg.lr, log=log, **kw)
    result = loop.run()
    counts = (len(inputs.train), len(inputs.replay), len(inputs.val), len(inputs.anchor))
    return TuneResult(params.state_from(result.best), None, result, *counts, len(inputs.negative), report)
