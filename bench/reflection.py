"""Reflection benchmark: LoCoMo evidence recall at a token budget, and speed on a 20,000-token day.

    python bench/reflection.py --json [--model PATH | --tiny] [--fraction 0.3] [--seeds 10]
                               [--speed-tokens 20000] [--speed-shape default|0.1b] [--no-speed]

Evidence recall:
- each LoCoMo conversation (../shared/data/locomo, CC BY-NC, read at run time, never copied) is imported
  into a fresh temporary data directory's database, message ids = dia_id;
- `run_reflection(..., dry_run=True)` runs at `--fraction` of the day's message tokens, tokens counted by
  the model's tokenizer, from the base (zero) state;
- recall = the share of the evidence turns of QA categories 1-4 whose id is among the kept source ids;
- random (mean over `--seeds`) and recency selection at the same budget, same tokenizer.
The QA is loaded only to score (reflection.locomo.load_conversation returns it separately); selection reads
the database, which holds only the messages.

Variants, for transparency: "untrimmed" runs without splitting small talk off messages (every kept part is
then a whole message); "answer_words_only_in_dropped_part" counts kept evidence turns whose QA answer words
appear only in the small talk that was split off (how often trimming lost the answer).

Speed: a persona-world export (world, seed 0) cut to `--speed-tokens` tokens, imported, then one full
non-dry run (redaction, scorers, embeddings, policy, probes, storing) timed warm (models loaded).
`--speed-shape 0.1b` times it with a random model of the RWKV-7 0.1B shape (L12, C768, world vocabulary)
instead of the benchmark model, as a stand-in for a larger default model.

Model: `--model PATH`, else the embedded default model, else (or with `--tiny`) a random tiny model, whose
surprise and judge switch themselves off (see reflection/scorers.py): then the figure is salience, small-talk
splitting and embeddings alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as a script, bench/ would come first on sys.path (bench/model.py would shadow the `model` package).
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from bench.common import machine
from memory import log as memlog
from memory.db import Database, migrate
from model.bundle import ModelBundle, load_bundle, write_tiny_checkpoint
from reflection import locomo
from reflection.config import ReflectionConfig
from reflection.embeddings import shared_embedder
from reflection.pipeline import run_reflection
from reflection.salience import _content_words


def load_model(path: str | None, tiny: bool, workdir: Path) -> tuple[ModelBundle, str]:
    if path:
        return load_bundle(path), str(path)
    if not tiny:
        with contextlib.suppress(FileNotFoundError, ImportError):
            from model.default_model import default_model_path

            p = default_model_path()
            return load_bundle(p), f"default ({p.name})"
    p = write_tiny_checkpoint(workdir / "tiny", seed=0)
    return load_bundle(p), "tiny random (L2 C128, byte vocabulary)"


@contextlib.contextmanager
def temp_db(conversations: list[dict[str, Any]]):
    """A fresh migrated database holding `conversations` (import format); yields the Database."""
    with tempfile.TemporaryDirectory(prefix="sleepd-bench-") as d:
        path = Path(d) / "sleepd.db"
        migrate(path)
        db = Database(path)
        try:
            with db.write() as s:
                items = [(i + 1, memlog.parse_conversation(c)) for i, c in enumerate(conversations)]
                memlog.import_conversations(s, items, source="import")
            yield db
        finally:
            db.dispose()


def answer_loss(result, qa: list[dict[str, Any]]) -> tuple[int, int]:
    """(kept evidence turns whose answer words are only in their split-off small talk, kept evidence
    turns that had small talk split off)."""
    info: dict[str, str] = {}
    talk: dict[str, str] = {}
    for d in result.outcome.decisions:
        if len(d.source_message_ids) != 1:
            continue
        mid = d.source_message_ids[0]
        if d.part.kind == "info" and d.kept:
            info[mid] = d.part.text
        elif d.part.kind == "small_talk":
            talk[mid] = d.part.text
    lost = total = 0
    for q in qa:
        if q.get("category") not in locomo.ANSWERABLE:
            continue
        words = set(_content_words(str(q.get("answer", ""))))
        if not words:
            continue
        for mid in locomo.parse_evidence(q.get("evidence") or []):
            if mid in info and mid in talk:
                total += 1
                if words & set(_content_words(talk[mid])) and not words & set(_content_words(info[mid])):
                    lost += 1
    return lost, total


def evidence_recall(bundle: ModelBundle, fraction: float, seeds: int, data_dir: str | None) -> dict[str, Any]:
    count = lambda s: len(bundle.tokenizer.encode(s))  # noqa: E731
    count.__name__ = "model_tokenizer"  # type: ignore[attr-defined]
    embedder = shared_embedder()
    config = ReflectionConfig(budget_fraction=fraction, budget_max_tokens=None)
    untrimmed = ReflectionConfig(budget_fraction=fraction, split_small_talk=False)
    per: dict[str, Any] = {}
    lost = checked = 0
    paths = locomo.conversation_paths(data_dir)
    if not paths:
        raise FileNotFoundError(f"no conv-*.json under {data_dir or locomo.DEFAULT_DATA_DIR}")
    for path in paths:
        conv, qa = locomo.load_conversation(path)
        ids = {m["id"] for m in conv["messages"]}
        evidence = locomo.evidence_turns(qa) & ids
        t = time.perf_counter()
        with temp_db([conv]) as db:
            res = run_reflection(db, bundle, None, since_watermark=0, config=config, embedder=embedder)
            res_u = run_reflection(db, bundle, None, since_watermark=0, config=untrimmed, embedder=embedder)
        seconds = time.perf_counter() - t
        budget = res.outcome.budget_tokens
        messages = conv["messages"]
        random_r = [
            locomo.evidence_recall(locomo.random_selection(messages, budget, s, count), evidence)
            for s in range(seeds)
        ]
        a, b = answer_loss(res, qa)
        lost, checked = lost + a, checked + b
        per[conv["conversation_id"]] = {
            "messages": len(messages),
            "total_tokens": res.total_tokens,
            "budget_tokens": budget,
            "kept_tokens": res.kept_tokens,
            "evidence_turns": len(evidence),
            "evidence_recall": locomo.evidence_recall(res.kept_message_ids, evidence),
            "evidence_recall_untrimmed": locomo.evidence_recall(res_u.kept_message_ids, evidence),
            "random_recall": sum(random_r) / len(random_r),
            "recency_recall": locomo.evidence_recall(
                locomo.recency_selection(messages, budget, count), evidence
            ),
            "notes": res.notes,
            "seconds_two_runs": round(seconds, 2),
        }

    def mean(key: str) -> float:
        return round(sum(r[key] for r in per.values()) / len(per), 4)

    return {
        "budget": fraction,
        "evidence_recall": mean("evidence_recall"),
        "random_recall": mean("random_recall"),
        "recency_recall": mean("recency_recall"),
        "evidence_recall_untrimmed": mean("evidence_recall_untrimmed"),
        "answer_words_only_in_dropped_part": {"turns": lost, "of": checked},
        "per_conversation": per,
    }


def world_day(tokens: int, count) -> list[dict[str, Any]]:
    """Persona-world conversations (seed 0) cut to about `tokens` tokens of message content."""
    from world.export import conversation_record
    from world.simulate import simulate_world

    world = simulate_world(0, days=60)
    out, used = [], 0
    for conv in world.conversations:
        rec = conversation_record(conv, 0)
        msgs = []
        for m in rec["messages"]:
            if used >= tokens:
                break
            msgs.append(m)
            used += count(m["content"])
        if msgs:
            out.append({**rec, "messages": msgs})
        if used >= tokens:
            break
    return out


def speed(bundle: ModelBundle, tokens: int, label: str) -> dict[str, Any]:
    count = lambda s: len(bundle.tokenizer.encode(s))  # noqa: E731
    day = world_day(tokens, count)
    embedder = shared_embedder()
    embedder.encode(["warm up"])  # model load is not part of a night's reflection time
    with temp_db(day) as db:
        t = time.perf_counter()
        res = run_reflection(
            db, bundle, None, since_watermark=0, config=ReflectionConfig(), dry_run=False, embedder=embedder
        )
        seconds = time.perf_counter() - t
    return {
        "model": label,
        "messages": res.messages,
        "tokens": res.total_tokens,
        "seconds": round(seconds, 2),
        "items": len(res.items),
        "timings": {k: round(v, 2) for k, v in res.timings.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/reflection.py", description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--model", default=None, help="checkpoint (default: the embedded model, else tiny)")
    ap.add_argument("--tiny", action="store_true", help="use a random tiny model")
    ap.add_argument("--data-dir", default=None, help="folder with LoCoMo conv-*.json")
    ap.add_argument("--fraction", type=float, default=0.3)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--speed-tokens", type=int, default=20_000)
    ap.add_argument("--speed-shape", choices=("default", "0.1b"), default="default")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-recall", action="store_true")
    args = ap.parse_args(argv)
    if not 0 < args.fraction <= 1 or args.seeds < 1:
        print("error: --fraction must be in (0, 1] and --seeds >= 1", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
    with tempfile.TemporaryDirectory() as work:
        bundle, label = load_model(args.model, args.tiny, Path(work))
        out: dict[str, Any] = {"model": label}
        if not args.no_recall:
            try:
                out.update(evidence_recall(bundle, args.fraction, args.seeds, args.data_dir))
            except (FileNotFoundError, json.JSONDecodeError, KeyError) as e:
                print(f"error: cannot read LoCoMo data: {e}", file=sys.stderr)
                return 2
        if not args.no_speed:
            if args.speed_shape == "0.1b":
                from bench.model import SHAPE_0_1B
                from model.checkpoint import CheckpointInfo
                from model.random_init import random_model
                from model.tokenizer import world_tokenizer

                big = random_model(SHAPE_0_1B, seed=0)
                info = CheckpointInfo("random", "none", SHAPE_0_1B, "", "random-0.1b", {})
                tok = world_tokenizer(SHAPE_0_1B.vocab_size)
                sb = speed(ModelBundle(big, tok, info), args.speed_tokens, "random RWKV-7 0.1B shape")
            else:
                sb = speed(bundle, args.speed_tokens, label)
            out["seconds_for_20k_tokens"] = round(sb["seconds"] * 20_000 / max(1, sb["tokens"]), 2)
            out["speed"] = sb
        out["machine"] = machine()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            if k != "per_conversation":
                print(f"{k:>34}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
