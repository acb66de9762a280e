"""Configuration of the night's tuner. Recorded in every generation's manifest.

Defaults come from docs/state-tuning-evidence.md: context distillation is the objective,
the learning rate is the main knob (state tuning's customary lr 1.0 silently damages the model), an anchor
to the base model protects general ability, and replay of earlier memories is required.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class ObjectiveWeights:
    distill: float = 1.0  # KL(teacher with the memories in context || student with the state, no context)
    lm: float = 0.0  # next-token loss on the kept text itself (the evidence says it barely helps)
    replay: float = 1.0  # the distillation loss on earlier nights' queries
    anchor: float = 1.0  # KL(base model || student) on general text, both without memory context
    # Questions whose right answer is "I don't know." (near neighbours of tonight's facts, relations the
    # bank holds nothing for): without them a tuned state answers "Ana" for the mother once it learned the
    # sister (measured: abstention 0.375 -> 0.000; with them 1.000).
    negative: float = 1.0


@dataclass(frozen=True)
class TunerConfig:
    method: Literal["state", "lora"] = "state"
    start: Literal["warm", "rebuild"] = "warm"  # warm: from the current generation; rebuild: from base
    objectives: ObjectiveWeights = field(default_factory=ObjectiveWeights)
    # optimisation
    lr: float = field(default=0.3, metadata={"min": 0.0})
    lr_final_ratio: float = 0.01  # cosine decay to lr * ratio
    warmup_steps: int = 10
    betas: tuple[float, float] = (0.9, 0.99)
    steps: int = 300
    # The step budget grows with the night's items (bench/capacity.py), up to max_steps and max_seconds.
    steps_per_item: int = 0
    max_steps: int = 2000
    batch_size: int = 16
    replay_fraction: float = 0.5  # share of each batch drawn from earlier memories (when there are any)
    negative_fraction: float = 0.25  # share of each batch drawn from the negative questions
    negatives_near: int = 6  # near-neighbour questions per fact tonight (the brother, sister told)
    negatives_free: int = 3  # per item tonight: questions about relations the bank holds nothing for
    # Closest-neighbour questions per replayed earlier fact (her job, her city), among the night's negatives
    # with the earlier item in the teacher's context (tuner/night.py). Measured on bench/memory.py's first
    # four nights: with 0, later nights answered "What does my neighbour do for work?" with the neighbour's
    # name (leak 1-7 of 48 a night, 1 of 4 nights promoted); with 2, leak 0-3 of 48, 2 of 4 promoted.
    negatives_replay: int = 2
    # Each negative in a batch comes with one question its item answers (the sister's name next to "I don't
    # know." for her job), so the state learns the boundary, not a blanket "I don't know." about her. Off:
    # on bench/memory.py's first four nights (with negatives_replay 3 and a namesakes tier of negatives,
    # since taken out) it promoted no more nights than without (2 of 4) at 20% more time a night.
    pair_negatives: bool = False
    overrides_per_fact: int = 1  # chats stating another value for a persona fact: the chat must win
    tune_att_shift: bool = False  # also learn the att token-shift vector (the wkv matrices always)
    # anchor batches
    anchor_batch: int = 2
    anchor_tokens: int = 128
    anchor_every: int = 1  # compute the anchor term every N steps (it costs more than a distill batch)
    # budgets: training stops at the first one reached, keeping the best checkpoint so far
    max_tokens: int | None = None
    max_seconds: float | None = None
    deadline: str | None = None  # "HH:MM" local time, e.g. "06:00"
    # bookkeeping
    checkpoint_every: int = 25
    eval_every: int = 25
    val_fraction: float = 0.1
    # Earlier nights' questions in the validation objective that picks the night's snapshot (a fixed
    # spread of the replay targets; they are also trained on, as the validation negatives are). 0: the
    # snapshot is chosen on tonight's questions, the negatives, the anchor and the kept text only, so a
    # snapshot that forgot an earlier person can still be the best one. With 64 (bench/memory.py, night 2)
    # the night still forgot the sister and the father ("I don't know."): not the cause there; kept off.
    val_replay: int = 0
    teacher_topk: int = 64
    # The teacher reads the asked item alone: with 8 items in its context the default model blended and cut
    # rare names, and the state learned exactly that (7 of 12 exact; 10 of 12 with the item alone).
    context_variants: int = 1  # teacher contexts per query (item order and company vary)
    context_items: int = 1  # items in one teacher context at most
    seed: int = 0
    # torch threads; 0 = all cores but one. Never oversubscribe: with the daemon's inference thread busy, a
    # second tuner thread waiting at every parallel-region barrier made steps >10x slower on 2 cores.
    threads: int = 0
    # LoRA (method = "lora")
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_lr: float = 1e-3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def steps_for(self, items: int) -> int:
        """The night's step budget for `items` memories tonight."""
        return min(self.max_steps, self.steps + self.steps_per_item * items)

    def torch_threads(self) -> int:
        return self.threads if self.threads > 0 else max(1, (os.cpu_count() or 2) - 1)
