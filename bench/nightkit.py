"""Shared by the memory benchmarks (bench/capacity.py, bench/memory.py): real data directories, real
nights through the cycle entry point, and questions asked from a generation in fresh chats.

Nothing here is a stand-in: `night()` is `daemon.cycle.run_cycle`, the same call the scheduler makes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import random
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # MiniLM and the tokenizer load from disk only

from corpus import heldout_general_text
from daemon.config import load_config, write_config
from daemon.cycle import PIPELINE_ENV, run_cycle
from daemon.init import init_data_dir, open_data_dir
from eval.metrics import Asked, answers
from memory import log as memlog
from model.bpb import bits_per_byte
from model.bundle import ModelBundle
from model.state import State
from reflection.stated import StatedFact, stated_facts
from tuner.lora import apply_adapter
from world import everyday
from world.compose import ValueGuard
from world.facts import RELATIONS, mentions, relation, sample_value
from world.scoring import answer_window, blend, is_abstention, near_miss, score_answer
from world.templates import TRAIN, render, statement_templates, templates


def quiet_night(home: Path) -> tuple[dict[str, Any], float]:
    """One real sleep cycle; (the `sleepd sleep --now --json` result, seconds). Logs go nowhere."""
    os.environ.pop(PIPELINE_ENV, None)
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = run_cycle(home, "bench")
    return result, time.perf_counter() - t


def make_home(
    root: Path,
    name: str,
    *,
    tuner: dict[str, Any] | None = None,
    reflection: dict[str, Any] | None = None,
    gates: dict[str, Any] | None = None,
) -> Path:
    """A fresh data directory with the embedded default model and config overrides."""
    home = root / name
    init_data_dir(home)
    cfg = load_config(home / "config.toml")
    for section, over in (("tuner", tuner), ("reflection", reflection), ("gates", gates)):
        if over:
            sub = getattr(cfg, section)
            if section == "tuner" and "objectives" in over:
                over = {**over, "objectives": dataclasses.replace(sub.objectives, **over["objectives"])}
            cfg = dataclasses.replace(cfg, **{section: dataclasses.replace(sub, **over)})
    write_config(home / "config.toml", cfg, overwrite=True)
    return home


def log_conversations(home: Path, conversations: Iterable[dict[str, Any]]) -> None:
    with open_data_dir(home) as dd, dd.db.write() as s:
        for conv in conversations:
            memlog.add_interaction(s, conv)


def generation_student(home: Path, gen_id: int, bundle: ModelBundle) -> tuple[Any, State]:
    """(model, state) a generation answers with: its state, and for LoRA its adapter merged in."""
    with open_data_dir(home) as dd:
        loaded = dd.generations.load_generation(gen_id)
    model = apply_adapter(bundle.model, loaded.adapter_dir) if loaded.kind == "lora" else bundle.model
    state = loaded.state if loaded.state is not None else bundle.model.zero_state(1)
    return model, state


def generation_bytes(home: Path, gen_id: int) -> int:
    """Bytes of what a generation stores as memory: the state file, and the adapter for LoRA."""
    with open_data_dir(home) as dd:
        d = dd.generations.dir_of(gen_id)
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file() and p.suffix == ".safetensors")


@dataclass
class Scored:
    exact: int = 0
    near: int = 0
    blends: int = 0
    abstained: int = 0
    leaks: int = 0
    n: int = 0
    misses: list[dict[str, str]] = dataclasses.field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return self.exact / self.n if self.n else None


def score(
    replies: Sequence[str], asked: Sequence[Asked], *, others: Sequence[str] = (), held: Sequence[str] = ()
) -> Scored:
    """Exact answers, near misses and blends (value questions); abstentions and leaks (abstain ones)."""
    out = Scored()
    for r, a in zip(replies, asked, strict=True):
        out.n += 1
        if a.abstain:
            ok = is_abstention(r)
            out.exact += ok
            out.abstained += ok
            window = answer_window(r)
            if window and not is_abstention(window) and any(mentions(window, v) for v in held):
                out.leaks += 1
                out.misses.append({"question": a.question, "answer": r.strip(), "leak": "yes"})
            continue
        if score_answer(r, a.answer, a.wrong_answers):
            out.exact += 1
            continue
        miss = near_miss(r, a.answer)
        out.near += miss is not None
        mixed = blend(miss, a.answer, others) if miss else None
        out.blends += mixed is not None
        out.misses.append(
            {
                "question": a.question[-120:],
                "expected": a.answer,
                "answer": r.strip()[:120],
                "near": miss or "",
            }
        )
    return out


def ask(model: Any, bundle: ModelBundle, state: State | None, asked: Sequence[Asked]) -> list[str]:
    return answers(model, bundle.tokenizer, asked, state) if asked else []


def general_bpb(
    model: Any, bundle: ModelBundle, state: State | None, chars: int = 60_000
) -> tuple[float, float]:
    """Mean and median bits per byte over the held-out general suite's documents (each read from `state`)."""
    text = heldout_general_text(chars)
    docs = [d for d in text.split("\n\n") if len(d) > 200]
    # Whole documents, at most 24, so the median means something and the cost stays small.
    rng = random.Random(0)
    docs = rng.sample(docs, min(24, len(docs)))
    values = [bits_per_byte(model, bundle.tokenizer, d, state) for d in docs]
    return statistics.fmean(values), statistics.median(values)


# --------------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class Stated:
    """A fact for a benchmark day: what the user says, and what it states (relation, noun, value)."""

    text: str
    fact: StatedFact


def _statement(
    rng: random.Random, texts: Sequence[str], value: str, noun: str
) -> tuple[str, StatedFact] | None:
    """A statement of `value` that sleepd's reflection reads as that fact (else the fact would not be one)."""
    order = list(texts)
    rng.shuffle(order)
    for t in order:
        text = render(t, value, noun=noun)
        found = [f for f in stated_facts(text) if f.value == value]
        if found:
            return text, found[0]
    return None


def dense_facts(n: int, seed: int, mix: str = "persona") -> list[Stated]:
    """`n` distinct one-line facts, no two values overlapping, statements in phrasings the model trained on.

    mix "persona": the persona relations first (every kind), then everyday facts; "everyday": everyday facts
    only (a named pet or thing, a relative's city or job, a purchase, a gift, an appointment), with nouns
    and values pretraining never used (world/everyday.py's held-out split)."""
    if mix not in ("persona", "everyday"):
        raise ValueError(f"mix must be 'persona' or 'everyday', got {mix!r}")
    rng = random.Random(hashlib.sha256(f"dense|{seed}|{mix}".encode()).hexdigest())
    taken: list[str] = []
    out: list[Stated] = []
    persona = [r for r in RELATIONS if r.key != "user_name"] if mix == "persona" else []
    rng.shuffle(persona)
    for rel in persona:
        if len(out) >= n:
            return out
        value = sample_value(rng, rel, taken)
        made = _statement(rng, [t.text for t in statement_templates(rel.key, TRAIN)], value, rel.nouns[0])
        if made:
            taken.append(value)
            out.append(Stated(*made))
    held: list[str] = []
    for _ in range(50 * n):
        if len(out) >= n:
            break
        fact = everyday.sample_everyday(
            rng, "heldout", taken=[*taken, *(f.fact.noun for f in out)], held=held
        )
        texts = [t.text for t in templates("statement", fact.template_kind, TRAIN)]
        made = _statement(rng, texts, fact.value, fact.noun)
        if made and made[1].relation == fact.relation:
            taken.append(fact.value)
            held.append(fact.relation)
            out.append(Stated(*made))
    return out


def single_fact_conversations(facts: Sequence[Stated], prefix: str, reply: str = "Got it.") -> list[dict]:
    return [
        {
            "conversation_id": f"{prefix}-{k}",
            "messages": [{"role": "user", "content": f.text}, {"role": "assistant", "content": reply}],
        }
        for k, f in enumerate(facts)
    ]


def guard_for(values: Iterable[str]) -> ValueGuard:
    return ValueGuard(values)


def relation_noun(key: str) -> str:
    return relation(key).nouns[0]


def overrides(pairs: list[str]) -> dict[str, Any] | None:
    """The "key=json" pairs of the command line as a dict (None when there are none)."""
    return {k: json.loads(v) for k, v in (t.split("=", 1) for t in pairs)} or None


def dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
