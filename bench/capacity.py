"""Capacity: one night of 2, 6, 12, 24 and 48 stated facts on the default model.

    python bench/capacity.py --json [--sizes 2,6,12,24,48] [--capacity N|0] [--seed 0] [--workdir DIR]

Each row is a fresh data directory with the embedded default model and the product's defaults (override
the night's fact capacity with --capacity; 0 means no limit, to find where learning falls off). The day is
one short conversation per fact ("My sister is called Ottilie." / "Got it."), facts drawn from the persona
relations first, then everyday facts (dense_facts in bench/nightkit.py). The night is the real cycle
(`run_cycle`). Then, from the candidate generation, in fresh chats with no context, two held-out
phrasings per kept fact, and the gates' never-taught suite:
- kept, deferred: what reflection did with the facts;
- acquisition_exact: share of the kept facts' questions answered with the value whole (a near miss is a
  miss), over the facts the model can say in context at all (its teacher check; `not_learnable` counts the
  others); near_misses and blends counted apart;
- ceiling_alone: the base model with the fact alone in the chat, same questions; ceiling_together: with
  every fact of the day in the chat (what a context-window memory would face);
- leak and abstention: the gates' never-taught suite (48 questions);
- general_bpb (mean over documents) against general_bpb_base; night_minutes: the whole cycle.
Prints {"rows": [...], ...} as JSON only; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

from bench.common import machine
from bench.nightkit import (
    ask,
    dense_facts,
    dump,
    general_bpb,
    generation_student,
    log_conversations,
    make_home,
    overrides,
    quiet_night,
    score,
    single_fact_conversations,
)
from daemon.init import open_data_dir
from eval.metrics import Asked
from memory.bank import list_memories
from model.bundle import load_bundle
from model.chat_format import memory_turns
from model.default_model import default_model_path
from reflection.stated import fact_questions
from world.templates import HELDOUT


def row_for(
    n: int,
    seed: int,
    capacity: int,
    root: Path,
    bundle,
    base_bpb: float,
    tuner: dict[str, Any] | None = None,
    mix: str = "persona",
    reflection_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One night of `n` facts; capacity -1 keeps the config's, 0 lifts the limit; `tuner` and
    `reflection_overrides` override those configs."""
    facts = dense_facts(n, seed, mix)
    reflection = dict(reflection_overrides or {})
    if capacity != -1:
        reflection["capacity_facts"] = capacity or None
    home = make_home(root, f"{mix}-{n}", reflection=reflection or None, tuner=tuner)
    log_conversations(home, single_fact_conversations(facts, f"d{n}"))
    result, seconds = quiet_night(home)
    with open_data_dir(home) as dd, dd.db.read() as s:
        kept = {m.text: m for m in list_memories(s, status="active")}
        deferred = list_memories(s, status="deferred")
        gen = result["generation_id"]
        ev = dd.generations.read_eval(gen) if gen is not None else {}
    kept_facts = [f for f in facts if f.text in kept]
    learnable = [f for f in kept_facts if kept[f.text].learnable is not False]
    asked, alone, together = [], [], []
    everything = memory_turns(f.text for f in facts)
    for f in learnable:
        for q in fact_questions(f.fact, HELDOUT, 2, seed=f"capacity:{seed}"):
            asked.append(Asked(q, f.fact.value))
            alone.append(
                Asked(
                    q,
                    f.fact.value,
                    context=tuple(memory_turns([f.text])),
                )
            )
            together.append(Asked(q, f.fact.value, context=tuple(everything)))
    values = [f.fact.value for f in kept_facts]
    base = bundle.model.zero_state(1)
    row: dict[str, Any] = {
        "facts": n,
        "mix": mix,
        "kept": len(kept_facts),
        "deferred": len(deferred),
        "not_learnable": len(kept_facts) - len(learnable),
        "status": result["status"],
        "questions": len(asked),
    }
    if gen is not None:
        model, state = generation_student(home, gen, bundle)
        got = score(ask(model, bundle, state, asked), asked, others=values)
        ceiling_alone = score(ask(bundle.model, bundle, base, alone), alone)
        ceiling_together = score(ask(bundle.model, bundle, base, together), together)
        meas = ev.get("measurements", {})
        bpb, _ = general_bpb(model, bundle, state)
        row |= {
            "acquisition_exact": got.rate,
            "near_misses": got.near,
            "blends": got.blends,
            "ceiling_alone": ceiling_alone.rate,
            "ceiling_together": ceiling_together.rate,
            "leak": meas.get("leak"),
            "abstention": meas.get("abstention"),
            "abstention_base": meas.get("abstention_base"),
            "general_bpb": round(bpb, 4),
            "general_bpb_base": round(base_bpb, 4),
            "failed_gates": [k for k, g in result["gates"].items() if not g["passed"]],
            "misses": got.misses,
        }
    else:
        row |= {k: None for k in ("acquisition_exact", "near_misses", "blends", "ceiling_alone",
                                  "ceiling_together", "leak", "abstention", "general_bpb")}  # fmt: skip
        row["general_bpb_base"] = round(base_bpb, 4)
    row["night_minutes"] = round(seconds / 60, 2)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print JSON only (the default output anyway)")
    ap.add_argument("--sizes", default="2,6,12,24,48")
    ap.add_argument("--capacity", type=int, default=-1, help="facts per night; 0: no limit; default: config")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--mix",
        choices=["persona", "everyday"],
        default="persona",
        help="persona relations first, or everyday facts only",
    )
    ap.add_argument("--workdir", default=None, help="keep the data directories here (default: a temp dir)")
    ap.add_argument(
        "--tuner", action="append", default=[], metavar="KEY=JSON", help="tuner config override (exploration)"
    )
    ap.add_argument(
        "--reflection",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="reflection config override (exploration)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    tuner = overrides(args.tuner)
    reflection = overrides(args.reflection)
    bundle = load_bundle(default_model_path())
    base_bpb, _ = general_bpb(bundle.model, bundle, bundle.model.zero_state(1))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sleepd-capacity-") as tmp:
        root = Path(args.workdir) if args.workdir else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        rows = []
        for n in sizes:
            print(f"capacity: {n} facts ...", file=sys.stderr, flush=True)
            rows.append(
                row_for(n, args.seed, args.capacity, root, bundle, base_bpb, tuner, args.mix, reflection)
            )
            print(
                json.dumps({k: v for k, v in rows[-1].items() if k != "misses"}), file=sys.stderr, flush=True
            )
            if args.workdir:
                dump(root / "capacity.json", {"rows": rows})
    out = {
        "rows": rows,
        "capacity": {-1: "config default", 0: "no limit"}.get(args.capacity, args.capacity),
        "seed": args.seed,
        "tuner_overrides": tuner,
        "reflection_overrides": reflection,
        "minutes": round((time.perf_counter() - t0) / 60, 1),
        "machine": machine(),
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
