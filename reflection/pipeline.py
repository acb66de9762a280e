"""The reflection pass, end to end, and the training-set builder the tuner reads.

    result = run_reflection(db, bundle, state, since_watermark=w, config=cfg, dry_run=True)
    print(json.dumps(result.as_dry_run_json()))      # the `sleepd reflect --dry-run --json` contract

Steps (each is a module of its own):
1. read the day: messages with watermark < pk <= upto, their feedback, and the active memory bank;
2. redact every message (redact.py) before anything else sees it; only counts per kind are reported;
3. segments (segments.py), small talk split off (policy.split_parts), salience (salience.py);
4. model scorers (scorers.py): surprise and the judge in one batched pass from the generation's state;
5. novelty (embeddings.py): MiniLM vectors of tonight's parts and of the bank;
6. policy (policy.py): combine, merge near-duplicates, fit the budget, plan items and supersedes;
7. probes (probes.py) for every planned item;
8. unless `dry_run`: one write transaction stores every decision (score components and reasons), the
   items with their supersede links, the probes, the provenance merges and an audit event.

A dry run writes nothing at all (not even decisions): it is what `sleepd reflect --dry-run` shows, and it
can run while the daemon serves. The real run happens inside a cycle (`cycle_id`), whose decisions then
explain that night's generation; the `reflection.run` audit event holds the counts and the full
ReflectionConfig. The store is one transaction, so a crashed cycle either reflected completely
(`reflection_done`) or not at all; running it twice for one cycle is a `Conflict`.

The dry-run JSON has exactly the documented keys. Redaction counts, scorer notes, items and probes are in
`as_report()`, which the CLI prints in its human-readable form (never secret values: everything there is
redacted text or counts).

What the tuner then reads from the bank is memory/training.py; forgetting and rebuilds, memory/forget.py.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from memory import bank as membank
from memory import log as memlog
from memory.db import Database
from memory.decisions import record_decision
from memory.errors import Conflict
from memory.events import record_event
from memory.schema import Event, Memory
from model.bundle import ModelBundle
from model.state import State
from reflection.config import ReflectionConfig
from reflection.embeddings import Embedder, EmbeddingsUnavailable, shared_embedder
from reflection.policy import BankItem, Part, PolicyOutcome, decide, salience_scores, split_parts
from reflection.probes import ModelQA, ProbeSpec, item_probes
from reflection.redact import redact
from reflection.salience import Context, contexts_for
from reflection.scorers import ModelScores, ScoreInput, model_scores, remote_judge
from reflection.segments import Segment, build_segments, whitespace_tokens
from reflection.stated import stated_facts

log = logging.getLogger(__name__)

EMBEDDING_CACHE = Path("cache") / "embeddings-minilm.npz"  # under the data directory


# --------------------------------------------------------------------------------------------- results


@dataclass
class ItemResult:
    text: str
    role: str
    source_message_ids: list[str]
    score: float
    subject: str | None
    relation: str | None
    value: str | None
    supersedes: list[int]  # bank memory ids (after storing: also tonight's superseded items)
    probes: list[ProbeSpec]
    notes: list[str]
    memory_id: int | None = None  # set when stored
    status: str = "active"  # "deferred": stored to wait for the next night (no probes yet)
    deferred_id: int | None = None  # the deferred bank item this takes up again
    facts: list[dict[str, str]] = field(default_factory=list)  # stated facts: relation, kind, noun, value


@dataclass
class ReflectionResult:
    outcome: PolicyOutcome
    items: list[ItemResult]
    redactions: dict[str, int]
    notes: list[str]
    timings: dict[str, float]
    config: ReflectionConfig
    dry_run: bool
    cycle_id: int | None
    watermark_from: int
    watermark_to: int
    messages: int

    @property
    def total_tokens(self) -> int:
        return self.outcome.total_tokens

    @property
    def kept_tokens(self) -> int:
        return self.outcome.kept_tokens

    @property
    def kept_message_ids(self) -> list[str]:
        """Source ids of every kept part, in message order (what evidence recall counts)."""
        ids = [mid for d in self.outcome.decisions if d.kept for mid in d.source_message_ids]
        return list(dict.fromkeys(ids))

    def as_dry_run_json(self) -> dict[str, Any]:
        """Exactly the docs/ARCHITECTURE.md shape of `sleepd reflect --dry-run --json`."""
        kept, dropped = [], []
        for d in self.outcome.decisions:
            row: dict[str, Any] = {"source_message_ids": d.source_message_ids}
            if d.kept:
                row["text"] = d.part.text
            row["score"] = d.score
            row["reasons"] = d.all_reasons()
            (kept if d.kept else dropped).append(row)
        return {
            "total_tokens": self.total_tokens,
            "kept_tokens": self.kept_tokens,
            "kept": kept,
            "dropped": dropped,
        }

    def as_report(self) -> dict[str, Any]:
        """Everything a person needs to audit the night: the contract plus counts, notes, items, probes."""
        return {
            **self.as_dry_run_json(),
            "budget_tokens": self.outcome.budget_tokens,
            "messages": self.messages,
            "watermark": {"from": self.watermark_from, "to": self.watermark_to},
            "redactions": dict(self.redactions),
            "notes": list(self.notes),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "items": [
                {
                    "memory_id": it.memory_id,
                    "text": it.text,
                    "source_message_ids": it.source_message_ids,
                    "slot": [it.subject, it.relation, it.value] if it.relation else None,
                    "facts": it.facts,
                    "supersedes": it.supersedes,
                    "status": it.status,
                    "notes": it.notes,
                    "probes": [
                        {"kind": p.kind, "prompt": p.prompt, "answer": p.answer, "split": p.split}
                        for p in it.probes
                    ],
                }
                for it in self.items
            ],
            "merges": [{"memory_id": m.memory_id, "message_ids": m.message_ids} for m in self.outcome.merges],
        }

    def manifest_record(self) -> dict[str, Any]:
        """For the generation manifest: config and counts, no text at all."""
        return {
            "config": self.config.to_dict(),
            "cycle_id": self.cycle_id,
            "watermark": [self.watermark_from, self.watermark_to],
            "messages": self.messages,
            "total_tokens": self.total_tokens,
            "kept_tokens": self.kept_tokens,
            "budget_tokens": self.outcome.budget_tokens,
            "kept": sum(d.kept for d in self.outcome.decisions),
            "dropped": sum(not d.kept and not d.deferred for d in self.outcome.decisions),
            "deferred": sum(d.deferred for d in self.outcome.decisions),
            "items": [it.memory_id for it in self.items if it.status == "active"],
            "deferred_items": [it.memory_id for it in self.items if it.status == "deferred"],
            "redactions": dict(self.redactions),
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------------------------- reading


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)


def read_day(
    session: Session, since_watermark: int, upto: int | None
) -> tuple[list[dict[str, Any]], dict[str, float], int]:
    """(messages as plain dicts, feedback rating per message id, the last pk read)."""
    rows = memlog.new_messages_since(session, since_watermark, upto)
    messages = [
        {
            "id": m.message_id,
            "role": m.role,
            "content": m.content,
            "name": m.name,
            "conversation_id": m.conversation_id,
            "created_at": _iso(m.created_at),
        }
        for m in rows
    ]
    fb = memlog.feedback_for(session, [m.pk for m in rows])
    ratings = {m.message_id: sum(f.rating for f in fb[m.pk]) / len(fb[m.pk]) for m in rows if fb.get(m.pk)}
    last = rows[-1].pk if rows else (upto if upto is not None else since_watermark)
    return messages, ratings, last


def read_bank(session: Session, status: str = "active") -> list[BankItem]:
    """Bank items of one status: "active" (what supersede and novelty compare with) or "deferred" (the
    facts waiting for a night with room, first in line)."""
    return [
        BankItem(m.id, m.text, m.subject, m.relation, m.value, tuple(m.source_message_ids or ()))
        for m in membank.list_memories(session, status=status)
    ]


def deferred_parts(deferred: Sequence[BankItem], count_tokens: Callable[[str], int]) -> list[Part]:
    """Deferred bank items as candidate parts placed before the day (negative positions, oldest first)."""
    out = []
    for k, b in enumerate(deferred):
        seg = Segment(
            list(b.source_message_ids),
            f"deferred-{b.memory_id}",
            b.text,
            ["user"],
            count_tokens(b.text),
            k - len(deferred),
            (b.text,),
            (None if (b.subject or "user") == "user" else b.subject,),
        )
        out.append(Part(seg, Context(), "whole", b.memory_id))
    return out


# --------------------------------------------------------------------------------------------- the pass


def _clean(components: Mapping[str, float]) -> dict[str, float | None]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in components.items()}


def reflect_messages(
    messages: Sequence[Mapping[str, Any]],
    bundle: ModelBundle | None,
    state: State | None,
    *,
    config: ReflectionConfig = ReflectionConfig(),
    bank: Sequence[BankItem] = (),
    feedback: Mapping[str, float] | None = None,
    embedder: Embedder | None = None,
    count_tokens: Callable[[str], int] | None = None,
    model_questions: bool = True,
    deferred: Sequence[BankItem] = (),
) -> tuple[PolicyOutcome, list[ItemResult], dict[str, int], list[str], dict[str, float]]:
    """Reflection over in-memory messages (import-format dicts); no database. `run_reflection` wraps it.

    Returns (policy outcome, items with probes, redaction counts, notes, timings)."""
    timings: dict[str, float] = {}
    notes: list[str] = []
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        timings[name] = now - t
        t = now

    if count_tokens is None:
        count_tokens = (
            (lambda s: len(bundle.tokenizer.encode(s))) if bundle is not None else whitespace_tokens
        )
    rcfg = config.redaction_config()
    redactions: dict[str, int] = {}
    clean = []
    for m in messages:
        r = redact(str(m.get("content") or ""), rcfg)
        for kind, n in r.counts.items():
            redactions[kind] = redactions.get(kind, 0) + n
        clean.append({**m, "content": r.text})
    lap("redact")

    segments = build_segments(clean, count_tokens, config=config.segment_config())
    total_tokens = sum(s.token_count for s in segments)
    contexts = contexts_for(segments, config.salience)
    parts = deferred_parts(deferred, count_tokens) + split_parts(
        segments, contexts, count_tokens, config.split_small_talk
    )
    sal = salience_scores(parts, feedback, config)
    lap("salience")

    model: ModelScores | None = None
    judge_p: list[float | None] | None = None
    judge_active = False
    if bundle is not None and parts and (config.surprise or config.judge):
        model = model_scores(bundle, state, [ScoreInput(p.segment.roles[0], p.text) for p in parts], config)
        notes.extend(model.notes)
        if model.p_yes is not None:
            judge_p = list(model.p_yes)
            judge_active = model.judge_active
    elif bundle is None:
        notes.append("no model: surprise and judge off")
    lap("model")
    if config.remote_judge and parts:
        remote = remote_judge([p.text for p in parts], config)
        notes.extend(remote.notes)
        if any(v is not None for v in remote.p_yes):
            local = judge_p if judge_active and judge_p is not None else [None] * len(parts)
            judge_p = [r if r is not None else lp for r, lp in zip(remote.p_yes, local, strict=True)]
            judge_active = True
    lap("remote_judge")

    embeddings = bank_embeddings = None
    if config.embeddings and parts:
        try:
            emb = embedder or shared_embedder()
            embeddings = emb.encode([p.text for p in parts])
            bank_embeddings = (
                emb.encode([b.text for b in bank]) if bank else np.zeros((0, embeddings.shape[1]))
            )
        except EmbeddingsUnavailable as e:
            notes.append(f"novelty and dedupe off: {e}")
    lap("embeddings")

    outcome = decide(
        parts,
        sal,
        total_tokens=total_tokens,
        config=config,
        model=model,
        judge_p=judge_p,
        judge_active=judge_active,
        embeddings=embeddings,
        bank=bank,
        bank_embeddings=bank_embeddings,
    )
    notes.extend(outcome.notes)
    lap("policy")

    # A dry run shows what is kept, not the probes: it skips the slow part, the model writing questions.
    # So does a model that failed the judge's self-check: one that cannot answer "worth remembering?"
    # about fixed examples cannot follow "write a question about this" either.
    failed_judge = model is not None and config.judge and not model.judge_active
    if failed_judge and model_questions and config.qa_from_model:
        notes.append("model questions off: the model failed the judge's self-check")
    qa = ModelQA(bundle if model_questions and not failed_judge else None, state, config)
    items: list[ItemResult] = []
    for it in [*outcome.items, *outcome.deferred]:
        slots = [(ps.slot, ps.subject) for ps in it.slots]
        # A deferred item gets its probes the night it is taken up (its phrasings may change by then).
        # Questions in the first person only about what the user says of themselves (not a named speaker).
        facts = stated_facts(it.text) if it.role == "user" and (it.subject or "user") == "user" else []
        probes = item_probes(it.text, it.role, slots, config, qa, facts) if it.status == "active" else []
        items.append(
            ItemResult(
                it.text,
                it.role,
                it.source_message_ids,
                it.score,
                it.subject,
                it.relation,
                it.value,
                list(it.supersedes_bank),
                probes,
                list(it.notes),
                status=it.status,
                deferred_id=it.deferred_id,
                facts=[
                    {"relation": f.relation, "kind": f.kind, "noun": f.noun, "value": f.value} for f in facts
                ],
            )
        )
    if items:
        notes.append(qa.note())
    lap("probes")
    return outcome, items, redactions, notes, timings


def run_reflection(
    db: Database,
    bundle: ModelBundle | None,
    state: State | None,
    *,
    since_watermark: int,
    upto: int | None = None,
    config: ReflectionConfig = ReflectionConfig(),
    dry_run: bool = True,
    cycle_id: int | None = None,
    embedder: Embedder | None = None,
    actor: str = "reflection",
) -> ReflectionResult:
    """Reflect on the messages with since_watermark < pk <= upto (see the module docstring)."""
    t0 = time.perf_counter()
    with db.read() as s:
        messages, feedback, last_pk = read_day(s, since_watermark, upto)
        bank = read_bank(s)
        deferred = read_bank(s, "deferred")
    if embedder is None and config.embeddings:
        embedder = shared_embedder()
        if config.embedding_cache and embedder.cache_path is None:
            embedder.cache_path = db.path.parent / EMBEDDING_CACHE
    outcome, items, redactions, notes, timings = reflect_messages(
        messages,
        bundle,
        state,
        config=config,
        bank=bank,
        feedback=feedback,
        embedder=embedder,
        model_questions=not dry_run,
        deferred=deferred,
    )
    if not dry_run:
        t = time.perf_counter()
        with db.write() as s:
            if cycle_id is not None and reflection_done(s, cycle_id):
                raise Conflict(f"cycle {cycle_id} has already been reflected on")
            store(
                s,
                outcome,
                items,
                cycle_id=cycle_id,
                actor=actor,
                redactions=redactions,
                notes=notes,
                config=config,
            )
            active = [m.text for m in membank.list_memories(s, status="active")]
        if embedder is not None and config.embedding_cache:
            embedder.save(active)
        timings["store"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return ReflectionResult(
        outcome,
        items,
        redactions,
        notes,
        timings,
        config,
        dry_run,
        cycle_id,
        since_watermark,
        last_pk,
        len(messages),
    )


def _add_memory(session: Session, it: ItemResult, cycle_id: int | None, **extra: Any) -> Memory:
    """One kept or deferred item as a bank row (`extra`: supersedes, status, deferred_reason)."""
    return membank.add_memory(
        session,
        it.text,
        subject=it.subject,
        relation=it.relation,
        value=it.value,
        cycle_id=cycle_id,
        source_message_ids=it.source_message_ids,
        facts=it.facts,
        **extra,
    )


def store(
    session: Session,
    outcome: PolicyOutcome,
    items: list[ItemResult],
    *,
    cycle_id: int | None,
    actor: str,
    redactions: Mapping[str, int],
    notes: Sequence[str],
    config: ReflectionConfig | None = None,
) -> None:
    """Decisions, items, supersede links, probes and provenance merges, in the caller's transaction.

    All or nothing: a crash before the commit leaves no trace, so a restarted cycle reflects again; after
    the commit `reflection_done(session, cycle_id)` is true and a resumed cycle goes on to tuning."""
    for d in outcome.decisions:
        record_decision(
            session,
            cycle_id=cycle_id,
            source_message_ids=d.source_message_ids,
            kept=d.kept,
            score=d.score,
            reasons=d.all_reasons(),
            components=_clean(d.components),
            text=d.part.text if d.kept else None,
            tokens=d.tokens,
        )
    ids: list[int] = []
    superseded: set[int] = set()
    kept = items[: len(outcome.items)]
    for planned, it in zip(outcome.items, kept, strict=True):
        olds = [m for m in planned.supersedes_bank if m not in superseded]
        olds += [ids[j] for j in planned.supersedes_planned if ids[j] not in superseded]
        olds = [m for m in dict.fromkeys(olds) if membank.get_memory(session, m).status == "active"]
        if planned.deferred_id is not None:
            mem = membank.activate_deferred(
                session, planned.deferred_id, cycle_id=cycle_id, supersedes=olds, facts=it.facts
            )
        else:
            mem = _add_memory(session, it, cycle_id, supersedes=olds)
        superseded.update(olds)
        ids.append(mem.id)
        it.memory_id = mem.id
        it.supersedes = olds
        for p in it.probes:
            membank.add_probe(session, mem.id, p.kind, p.prompt, p.answer, split=p.split)
    for it in items[len(outcome.items) :]:
        reason = it.notes[0] if it.notes else "over tonight's capacity"
        mem = _add_memory(session, it, cycle_id, status="deferred", deferred_reason=reason)
        it.memory_id = mem.id
    for d in outcome.decisions:
        if d.deferred and d.part.deferred_id is not None:  # still waiting: tonight's reason and cycle
            mem = membank.get_memory(session, d.part.deferred_id)
            mem.deferred_reason, mem.deferred_cycle_id = d.verdict, cycle_id
    for mid, why in outcome.obsolete_deferred.items():
        membank.retire_deferred(session, mid, reason=why)
    for merge in outcome.merges:
        mem = membank.get_memory(session, merge.memory_id)
        mem.source_message_ids = list(dict.fromkeys([*(mem.source_message_ids or []), *merge.message_ids]))
    record_event(
        session,
        "reflection.run",
        actor=actor,
        cycle_id=cycle_id,
        details={
            "kept": sum(d.kept for d in outcome.decisions),
            "dropped": sum(not d.kept and not d.deferred for d in outcome.decisions),
            "deferred": [it.memory_id for it in items[len(outcome.items) :]],
            "items": ids,
            "superseded": sorted(superseded),
            "merged_into": [m.memory_id for m in outcome.merges],
            "total_tokens": outcome.total_tokens,
            "kept_tokens": outcome.kept_tokens,
            "redactions": dict(redactions),
            "notes": list(notes),
            "config": config.to_dict() if config is not None else None,
        },
    )
    session.flush()


def reflection_done(session: Session, cycle_id: int) -> bool:
    """Whether the cycle's reflection has been stored (its `reflection.run` event exists)."""
    q = select(Event.id).where(Event.action == "reflection.run", Event.cycle_id == cycle_id).limit(1)
    return session.scalar(q) is not None
