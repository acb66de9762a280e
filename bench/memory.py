"""The memory benchmark: seven simulated nights of a persona world, memory methods side by side.

    python bench/memory.py --json [--seed 7] [--nights 7] [--methods none,full_context,rag,prefill_state,
                                   sleepd,ablation,lora] [--workdir DIR]

The persona world (world, an evaluation seed: never used in pretraining) gives seven days of
conversations (about six facts a day, updates of earlier facts from day 2, small talk, questions) and,
after each day, ground-truth questions in held-out phrasings, asked in fresh chats with no context:
acquisition (the day's new facts), update (the new value; the old one counts wrong), retention (earlier
facts), abstention (relations the user never revealed).

Methods:
- none: the base model, nothing remembered (the floor);
- full_context: every conversation so far read before the question (the ceiling, context paid at every
  answer);
- rag: MiniLM top-4 of sleepd's kept items put into the prompt, as mem0-like systems do;
- prefill_state: sleepd's kept items read once from the base state, the resulting state kept (no training);
- sleepd: the real nightly cycle with the product defaults, gates on (`run_cycle`); questions go to the
  generation the daemon would serve (a rejected night leaves the previous one);
- ablation: the same without negatives, replay and anchor;
- lora: the same objectives training LoRA adapters through peft instead of the state.

Per method: nights_promoted; acquisition (mean over nights of the day's facts, asked after that night) and
acquisition_ceiling (the same questions, base model, each fact's statement alone in the chat);
retention_night1 (night-1 facts still current, asked after night 7, as a share of their score after night
1); update_newest; abstention and abstention_base; leak (never-revealed questions answered with a value the
user stated); general_bpb mean and median over held-out documents, against base; night_minutes;
memory_bytes; context_tokens (mean tokens put before each question). JSON only on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

import numpy as np
import torch

from bench.common import machine
from bench.nightkit import (
    Scored,
    ask,
    dump,
    general_bpb,
    generation_bytes,
    generation_student,
    log_conversations,
    make_home,
    overrides,
    quiet_night,
    score,
)
from daemon.init import open_data_dir
from eval.metrics import Asked
from memory.bank import list_memories
from memory.generations import current_generation_id
from model.bundle import load_bundle
from model.chat_format import format_messages, memory_turns
from model.default_model import default_model_path
from reflection.embeddings import shared_embedder
from tuner.data import MemoryText
from world import WorldConfig, simulate_world
from world.templates import HELDOUT

METHODS = ("none", "full_context", "rag", "prefill_state", "sleepd", "ablation", "lora")
STATE_METHODS = {
    "sleepd": {},
    "ablation": {
        "objectives": {"negative": 0.0, "replay": 0.0, "anchor": 0.0},
        "negatives_near": 0,
        "negatives_free": 0,
    },
    "lora": {"method": "lora"},
}
WORLD = WorldConfig(
    days=7,
    first_day_reveals=(5, 6),
    reveals_per_day=(3, 4),
    updates_per_day=(2, 3),
    first_update_day=2,
    never_revealed=4,
    abstentions_per_day=3,
)
RAG_K = 4


@dataclass
class Night:
    night: int
    status: str | None = None
    seconds: float | None = None
    scores: dict[str, Scored] = field(default_factory=dict)
    context_tokens: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "night": self.night,
            "status": self.status,
            "seconds": None if self.seconds is None else round(self.seconds, 1),
            **{k: (s.rate, s.n) for k, s in self.scores.items()},
        }


def conversations(world, day: int) -> list[dict[str, Any]]:
    out = []
    for c in world.days[day - 1].conversations:
        msgs = [
            {"id": m.id, "role": m.role, "content": m.content, "created_at": m.created_at} for m in c.messages
        ]
        out.append({"conversation_id": c.id, "messages": msgs})
    return out


def asked_of(q, context: tuple[dict[str, str], ...] = ()) -> Asked:
    return Asked(q.question, q.answer, tuple(q.wrong_answers), context=context, abstain=q.abstain)


def questions(world, day: int, kind: str) -> list:
    return [q for q in world.days[day - 1].questions if q.kind == kind and q.template_split == HELDOUT]


def statement_of(world) -> dict[str, str]:
    """fact id -> the user message that stated it."""
    text = {m.id: m.content for c in world.conversations for m in c.messages}
    return {e.fact.id: text[e.message_id] for e in world.events}


def stated_values(world, day: int) -> list[str]:
    return [e.fact.value for e in world.events if e.day <= day]


def night1_current(world) -> list:
    """Night 1's acquisition questions whose fact is still current after the last day."""
    replaced = {e.previous.id for e in world.events if e.previous is not None}
    return [q for q in questions(world, 1, "acquisition") if q.fact_id not in replaced]


class Runner:
    def __init__(self, bundle, world, root: Path) -> None:
        self.bundle, self.world, self.root = bundle, world, root
        self.nights = len(world.days)
        self.base = bundle.model.zero_state(1)
        self.tok = bundle.tokenizer
        self.statements = statement_of(world)

    def tokens(self, text: str) -> int:
        return len(self.tok.encode(text))

    def prefilled(self, text: str):
        if not text:
            return self.base
        with torch.no_grad():
            _, state = self.bundle.model(torch.tensor([self.tok.encode(text)]), self.base.clone())
        return state

    def evaluate(self, night: int, model, state, *, context_for=None) -> Night:
        """The night's questions from (model, state); `context_for(question)` gives a per-question chat."""
        rec = Night(night)
        values = stated_values(self.world, night)
        for kind in ("acquisition", "update", "retention", "abstention"):
            qs = questions(self.world, night, kind)
            ctxs = [context_for(q.question) if context_for else () for q in qs]
            asked = [asked_of(q, c) for q, c in zip(qs, ctxs, strict=True)]
            rec.context_tokens += [self.tokens(format_messages(list(c))) if c else 0 for c in ctxs]
            rec.scores[kind] = score(ask(model, self.bundle, state, asked), asked, others=values, held=values)
        if night == self.nights:
            qs = night1_current(self.world)
            asked = [asked_of(q, context_for(q.question) if context_for else ()) for q in qs]
            rec.scores["night1_final"] = score(ask(model, self.bundle, state, asked), asked)
        return rec

    def ceiling(self, night: int) -> Scored:
        qs = questions(self.world, night, "acquisition")
        asked = [asked_of(q, tuple(memory_turns([self.statements[q.fact_id]]))) for q in qs]
        return score(ask(self.bundle.model, self.bundle, self.base, asked), asked)


def bank(home: Path) -> list[MemoryText]:
    with open_data_dir(home) as dd, dd.db.read() as s:
        return [MemoryText(m.id, m.text) for m in list_memories(s, status="active")]


def current(home: Path) -> int:
    with open_data_dir(home) as dd, dd.db.read() as s:
        gen = current_generation_id(s)
    assert gen is not None
    return gen


def summarise(name: str, nights: list[Night], *, extra: dict[str, Any]) -> dict[str, Any]:
    def pooled(kind: str) -> float | None:
        hits = sum(n.scores[kind].exact for n in nights if kind in n.scores)
        total = sum(n.scores[kind].n for n in nights if kind in n.scores)
        return hits / total if total else None

    acq = [n.scores["acquisition"].rate for n in nights if n.scores["acquisition"].n]
    first = nights[0].scores.get("night1_first")
    final = nights[-1].scores.get("night1_final")
    ret = None
    if first and final and first.rate:
        ret = final.rate / first.rate
    abst = [n.scores["abstention"] for n in nights]
    leaks = sum(s.leaks for s in abst)
    n_abst = sum(s.n for s in abst)
    ctx = [t for n in nights for t in n.context_tokens]
    promoted = [n.status for n in nights if n.status is not None]
    seconds = [n.seconds for n in nights if n.seconds is not None]
    return {
        "nights_promoted": sum(s == "promoted" for s in promoted) if promoted else None,
        "acquisition": statistics.fmean(acq) if acq else None,
        "acquisition_ceiling": extra["ceiling"],
        "retention_night1": ret,
        "retention_night1_scores": [first.rate if first else None, final.rate if final else None],
        "retention": pooled("retention"),
        "update_newest": pooled("update"),
        "abstention": pooled("abstention"),
        "abstention_base": extra["abstention_base"],
        "leak": leaks / n_abst if n_abst else None,
        "near_misses": sum(n.scores["acquisition"].near for n in nights),
        "blends": sum(n.scores["acquisition"].blends for n in nights),
        "general_bpb": extra["bpb"][0] if extra["bpb"] else None,
        "general_bpb_median": extra["bpb"][1] if extra["bpb"] else None,
        "general_bpb_base": extra["bpb_base"][0],
        "general_bpb_base_median": extra["bpb_base"][1],
        "night_minutes": round(statistics.fmean(seconds) / 60, 2) if seconds else None,
        "memory_bytes": extra["memory_bytes"],
        "context_tokens": round(statistics.fmean(ctx), 1) if ctx else 0,
        "per_night": [n.summary() for n in nights],
    }


def run_state_method(
    name: str, runner: Runner, nights: int, derived: set[str], tuner: dict[str, Any] | None = None
) -> dict[str, list[Night]]:
    """A method that sleeps (sleepd, ablation, lora); with `derived`, also the methods that read sleepd's
    kept items (rag, prefill_state) and those that need no bank (none, full_context), night by night."""
    bundle, world = runner.bundle, runner.world
    home = make_home(runner.root, name, tuner={**STATE_METHODS[name], **(tuner or {})})
    out: dict[str, list[Night]] = {m: [] for m in (name, *derived)}
    embedder = shared_embedder() if "rag" in derived else None
    transcript = ""
    for k in range(1, nights + 1):
        convs = conversations(world, k)
        log_conversations(home, convs)
        transcript += "".join(format_messages(c["messages"]) for c in convs)
        result, seconds = quiet_night(home)
        print(f"memory: {name} night {k}: {result['status']} in {seconds:.0f}s", file=sys.stderr, flush=True)
        model, state = generation_student(home, current(home), bundle)
        rec = runner.evaluate(k, model, state)
        rec.status, rec.seconds = result["status"], seconds
        if k == 1:
            first = [asked_of(q) for q in night1_current(world)]
            rec.scores["night1_first"] = score(ask(model, bundle, state, first), first)
        out[name].append(rec)
        items = bank(home)
        if "none" in derived:
            out["none"].append(runner.evaluate(k, bundle.model, runner.base))
        if "full_context" in derived:
            out["full_context"].append(_with_first(runner, k, runner.prefilled(transcript), transcript))
        if "prefill_state" in derived:
            text = format_messages(memory_turns([m.text for m in items])) if items else ""
            out["prefill_state"].append(_with_first(runner, k, runner.prefilled(text), ""))
        if "rag" in derived and embedder is not None:
            vecs = embedder.encode([m.text for m in items]) if items else np.zeros((0, 384))

            def retrieve(question: str, items=items, vecs=vecs) -> tuple[dict[str, str], ...]:
                if not items:
                    return ()
                qv = embedder.encode([question])[0]
                top = np.argsort(-(vecs @ qv))[:RAG_K]
                return tuple(memory_turns([items[i].text for i in sorted(top)]))

            rec = runner.evaluate(k, bundle.model, runner.base, context_for=retrieve)
            if k == 1:
                qs = [asked_of(q, retrieve(q.question)) for q in night1_current(world)]
                rec.scores["night1_first"] = score(ask(bundle.model, bundle, runner.base, qs), qs)
            out["rag"].append(rec)
    out["_home"] = home  # type: ignore[assignment]
    out["_transcript"] = transcript  # type: ignore[assignment]
    return out


def _with_first(runner: Runner, k: int, state, context: str) -> Night:
    """Evaluate a state-carrying setup; night 1 also records the night-1 reference score."""
    rec = runner.evaluate(k, runner.bundle.model, state)
    if context:
        tokens = runner.tokens(context)
        rec.context_tokens = [tokens] * len(rec.context_tokens)
    if k == 1:
        qs = [asked_of(q) for q in night1_current(runner.world)]
        rec.scores["night1_first"] = score(ask(runner.bundle.model, runner.bundle, state, qs), qs)
    return rec


def final_setup(m: str, name: str, home: Path, transcript: str, runner: Runner) -> tuple[Any, Any, int]:
    """(model, state, memory bytes) a method answers with after the last night."""
    bundle = runner.bundle
    if m == name:
        gen = current(home)
        model, state = generation_student(home, gen, bundle)
        return model, state, generation_bytes(home, gen)
    if m == "full_context":
        return bundle.model, runner.prefilled(transcript), len(transcript.encode())
    items = bank(home)
    if m == "prefill_state":
        state = runner.prefilled(format_messages(memory_turns([m.text for m in items])) if items else "")
        return (
            bundle.model,
            state,
            sum(t.numel() * t.element_size() for t in (state.att_shift, state.wkv, state.ffn_shift)),
        )
    if m == "rag":  # the kept text and one MiniLM vector (384 floats) per item; general text reads as base
        return bundle.model, runner.base, sum(len(i.text.encode()) for i in items) + 384 * 4 * len(items)
    return bundle.model, runner.base, 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print JSON only (the default output anyway)")
    ap.add_argument("--seed", type=int, default=7, help="persona world seed (an evaluation seed, 0-999)")
    ap.add_argument("--nights", type=int, default=7)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--workdir", default=None, help="keep data directories and per-method results here")
    ap.add_argument(
        "--tuner",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="tuner config override for sleepd and lora (exploration)",
    )
    args = ap.parse_args(argv)
    tuner = overrides(args.tuner)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        print(f"memory: unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}", file=sys.stderr)
        return 2
    world = simulate_world(args.seed, WORLD, days=args.nights)
    bundle = load_bundle(default_model_path())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sleepd-memory-") as tmp:
        root = Path(args.workdir) if args.workdir else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        runner = Runner(bundle, world, root)
        bpb_base = general_bpb(bundle.model, bundle, runner.base)
        ceilings = [runner.ceiling(k).rate for k in range(1, args.nights + 1)]
        ceiling = statistics.fmean([c for c in ceilings if c is not None])
        abstain = [asked_of(q) for k in range(1, args.nights + 1) for q in questions(world, k, "abstention")]
        base_abst = score(ask(bundle.model, bundle, runner.base, abstain), abstain).rate
        common = {"ceiling": ceiling, "abstention_base": base_abst, "bpb_base": bpb_base}
        results: dict[str, Any] = {}
        cache = root / "methods"
        derived = {m for m in ("none", "full_context", "rag", "prefill_state") if m in methods}
        order = [m for m in ("sleepd", "ablation", "lora") if m in methods]
        if derived and "sleepd" not in order:
            order.insert(0, "sleepd")  # rag and prefill_state read sleepd's kept items
        for name in order:
            produces = {name} | (derived if name == "sleepd" else set())
            if all((cache / f"{m}.json").is_file() for m in produces):  # a finished method (--workdir)
                results |= {m: json.loads((cache / f"{m}.json").read_text()) for m in produces}
                continue
            nights_file = cache / f"{name}.nights.pickle"  # this run's own scratch: the nights, kept so a
            if nights_file.is_file():  # failure after them costs minutes, not the whole run again
                runs = pickle.loads(nights_file.read_bytes())
            else:
                own = tuner if name != "ablation" else None  # the ablation keeps its own switches
                also = derived if name == "sleepd" else set()
                runs = run_state_method(name, runner, args.nights, also, own)
                cache.mkdir(parents=True, exist_ok=True)
                nights_file.write_bytes(pickle.dumps(runs))
            home, transcript = runs.pop("_home"), runs.pop("_transcript")  # type: ignore[misc]
            for m, nights in runs.items():
                model, state, mem_bytes = final_setup(m, name, home, transcript, runner)
                bpb = general_bpb(model, bundle, state)
                results[m] = summarise(m, nights, extra={**common, "bpb": bpb, "memory_bytes": mem_bytes})
                dump(cache / f"{m}.json", results[m])
    out = {
        "nights": args.nights,
        "seed": args.seed,
        "methods": {m: results[m] for m in methods if m in results},
        "tuner_overrides": tuner,
        "minutes": round((time.perf_counter() - t0) / 60, 1),
        "machine": machine(),
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
