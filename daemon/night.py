"""The sleep cycle: reflect → tune → gate → promote or reject, then a report (docs/ARCHITECTURE.md).

Plugged into daemon.cycle as the default pipeline. Every step persists before the next starts, so a cycle
interrupted by a crash or SIGTERM resumes where it stopped when the next cycle run finds it unfinished:
- reflection is stored once per cycle (a `reflection.run` event marks it done);
- tuning resumes from its checkpoint in cycles/<id>/tune (same inputs, same batches);
- the candidate state is saved to cycles/<id>/candidate.safetensors before the gates run;
- the candidate generation is created once (its id is kept on the cycle), and promotion happens at most
  once: the store treats promoting the current generation as a no-op and terminal cycles never change.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from daemon.cycle_context import CycleContext, CycleInterrupted
from daemon.init import DataDir
from daemon.model_path import load_base_model
from eval.gates import GateReport, evaluate_gates
from eval.history import write_history
from eval.report import CycleReport, decision_summary, read_curves, verdict, write_report
from eval.suites import gate_suites
from memory import bank as membank
from memory import cycles
from memory import log as memlog
from memory.decisions import list_decisions
from memory.events import record_event
from memory.forget import rebuild_pending
from memory.schema import Memory
from memory.training import training_set
from model.bundle import ModelBundle
from model.state import State
from reflection.pipeline import reflection_done, run_reflection
from tuner.lora import apply_adapter, save_adapter
from tuner.night import training_set_from
from tuner.tune import NothingLearnable, TuneResult, tune

log = logging.getLogger(__name__)

CANDIDATE_STATE = "candidate.safetensors"
REPLAY_ITEMS = 64


def phase(text: str) -> None:
    """A phase of the night: one line on a terminal, a log line otherwise."""
    if sys.stderr.isatty():
        from rich.console import Console

        Console(stderr=True).print(f"[bold]sleep cycle[/bold] {text}")
    else:
        log.info("%s", text)


def _check_stop(ctx: CycleContext) -> None:
    if ctx.should_stop():
        raise CycleInterrupted("the daemon is shutting down")


def _status(ctx: CycleContext) -> str:
    with ctx.data.db.read() as s:
        return cycles.get_cycle(s, ctx.cycle_id).status


def _kept_memories(ctx: CycleContext) -> list[str]:
    with ctx.data.db.read() as s:
        q = (
            select(Memory.text)
            .where(Memory.created_cycle_id == ctx.cycle_id, Memory.status != "deferred")
            .order_by(Memory.id)
        )
        return list(s.scalars(q))


def _deferred_memories(ctx: CycleContext) -> list[str]:
    with ctx.data.db.read() as s:
        q = select(Memory.text).where(Memory.status == "deferred").order_by(Memory.id)
        return list(s.scalars(q))


def night_pipeline(ctx: CycleContext) -> None:
    dd, cid = ctx.data, ctx.cycle_id
    cfg = dd.config
    cdir = ctx.cycle_dir
    cdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    bundle = load_base_model(cfg.model)
    model, tok = bundle.model, bundle.tokenizer
    store = dd.generations

    with dd.db.read() as s:
        cycle = cycles.get_cycle(s, cid)
        parent_id = cycle.parent_generation_id
    current = store.load_generation(parent_id) if parent_id is not None else store.load_current_state()
    current_model = apply_adapter(model, current.adapter_dir) if current.kind == "lora" else model
    current_state = (current.state or model.zero_state(1)).to(dtype=model.dtype)
    base_loaded = store.load_generation(0)
    base_state = (base_loaded.state or model.zero_state(1)).to(dtype=model.dtype)
    report = CycleReport(cid, "running", ctx.trigger, parent_id, None)

    # ---- reflect --------------------------------------------------------------------------------------
    status = _status(ctx)
    if status == "pending":
        with dd.db.write() as s:
            cycles.transition(s, cid, "reflecting", watermark_to=memlog.last_message_pk(s))
        status = "reflecting"
    with dd.db.read() as s:
        c = cycles.get_cycle(s, cid)
        frm, to = c.watermark_from or 0, c.watermark_to
        done = reflection_done(s, cid)
        rebuild = rebuild_pending(s)
    report.rebuild = rebuild
    if status == "reflecting":
        if not done:
            phase("reflecting: what is worth keeping")
            res = run_reflection(
                dd.db,
                bundle,
                current_state,
                since_watermark=frm,
                upto=to,
                config=cfg.reflection,
                dry_run=False,
                cycle_id=cid,
                actor=ctx.actor,
            )
            report.redactions = dict(getattr(res, "redactions", {}) or {})
        report.kept = _kept_memories(ctx)
        if not report.kept and not rebuild:
            _finish_skipped(ctx, report, "nothing new worth keeping")
            return
        with dd.db.write() as s:
            cycles.transition(s, cid, "tuning", result={"kept": len(report.kept), "rebuild": rebuild})
        status = "tuning"
    report.kept = _kept_memories(ctx)
    report.deferred = _deferred_memories(ctx)
    report.rebuild = rebuild
    _check_stop(ctx)

    # ---- tune ----------------------------------------------------------------------------------------
    tcfg = replace(cfg.tuner, start="rebuild") if rebuild else cfg.tuner
    candidate_path = cdir / CANDIDATE_STATE
    adapter_dir = cdir / "adapter"
    if status == "tuning" or not candidate_path.is_file():
        phase(f"tuning the memory state on {len(report.kept)} kept memories")
        try:
            outcome = tune_for_cycle(ctx.data, cid, bundle, current_state, base_state, rebuild)
        except NothingLearnable as e:
            report.tune = {"verification": e.report}
            _finish_skipped(ctx, report, f"{e}: every kept memory stays in the bank, unlearned")
            return
        if outcome is None:
            _finish_skipped(ctx, report, "kept memories have no probes to learn from")
            return
        tune_summary = outcome
        with dd.db.write() as s:
            result = {"kept": len(report.kept), "rebuild": rebuild, "tune": tune_summary}
            cycles.transition(s, cid, "evaluating", result=result)
        status = "evaluating"
    else:
        with dd.db.read() as s:
            tune_summary = dict((cycles.get_cycle(s, cid).result or {}).get("tune", {}))
    report.tune = tune_summary
    _check_stop(ctx)

    # ---- gates ---------------------------------------------------------------------------------------
    phase("gates: forgetting, acquisition, abstention, leak, context override")
    candidate = State.load(candidate_path).to(dtype=model.dtype)
    lora = tcfg.method == "lora"
    candidate_model = apply_adapter(model, adapter_dir) if lora else model
    with dd.db.read() as s:
        suites = gate_suites(s, cid, seed=tcfg.seed, cfg=cfg.gates)
    gates: GateReport = evaluate_gates(
        model,
        tok,
        candidate=candidate,
        current=current_state,
        base=base_state,
        suites=suites,
        cfg=cfg.gates,
        candidate_model=candidate_model,
        current_model=current_model,
    )
    report.gates, report.measurements = gates.to_json(), gates.measurements_json()

    # ---- the candidate generation, then promote or reject ---------------------------------------------
    with dd.db.read() as s:
        gen_id = cycles.get_cycle(s, cid).candidate_generation_id
    if gen_id is None:
        gen = store.create_generation(
            base_model_id=bundle.info.model_id,
            base_model_sha256=bundle.info.sha256,
            state=candidate,
            adapter_dir=adapter_dir if lora else None,
            parent_id=parent_id,
            cycle_id=cid,
            model_config=bundle.config.to_dict(),
            tuner_config=tcfg.to_dict(),
            objective_config=asdict(tcfg.objectives),
            eval_result={"gates": report.gates, "measurements": report.measurements, "passed": gates.passed},
            extra={
                "reflection_config": asdict(cfg.reflection),
                "gate_config": asdict(cfg.gates),
                "tune": tune_summary,
            },
            actor=ctx.actor,
            reason=f"cycle {cid} candidate",
        )
        gen_id = gen.id
        with dd.db.write() as s:
            cycles.transition(s, cid, "evaluating", candidate_generation_id=gen_id)
    report.candidate_generation_id = gen_id
    outcome = {
        "kept": len(report.kept),
        "rebuild": rebuild,
        "tune": tune_summary,
        "gates": report.gates,
        "measurements": report.measurements,
    }
    report_path = str(cdir / "report.md")
    if gates.passed:
        report.status = "promoted"
        outcome["verdict"] = verdict(report)
        _write_reports(ctx, report)

        def mark_promoted(s) -> None:
            cycles.transition(s, cid, "promoted", result=outcome, report_path=report_path)

        store.promote(
            gen_id, reason=f"cycle {cid}: every gate passed", actor=ctx.actor, in_transaction=mark_promoted
        )
        if _status(ctx) != "promoted":  # the candidate was current already (a resumed cycle): finish the row
            with dd.db.write() as s:
                mark_promoted(s)
    else:
        failed = gates.failed()
        report.status = "rejected"
        report.notes.append("rejected: " + ", ".join(failed))
        outcome["verdict"] = verdict(report)
        _write_reports(ctx, report)

        def mark_rejected(s) -> None:
            cycles.transition(
                s, cid, "rejected", result={**outcome, "failed_gates": failed}, report_path=report_path
            )

        store.reject(
            gen_id,
            reason=f"cycle {cid}: gates failed: {', '.join(failed)}",
            actor=ctx.actor,
            in_transaction=mark_rejected,
        )
    write_history(dd)


def tune_for_cycle(
    dd: DataDir, cid: int, bundle: ModelBundle, start_state: State, base_state: State, rebuild: bool
) -> dict[str, Any] | None:
    """Tune the cycle's candidate (resuming from its checkpoint) and save it to the cycle directory:
    candidate.safetensors, plus adapter/ for LoRA. Returns the tuner's summary; None when the kept items
    have nothing to learn from. Shared by the night and `sleepd tune --cycle ID`."""
    tcfg = replace(dd.config.tuner, start="rebuild") if rebuild else dd.config.tuner
    cdir = dd.paths.cycle_dir(cid)
    with dd.db.read() as s:
        inputs = training_set(s, cid, replay_k=REPLAY_ITEMS, seed=tcfg.seed, rebuild=rebuild)
    data = training_set_from(inputs, tcfg)
    if not data.queries and not data.replay_queries:
        return None
    try:
        result: TuneResult = tune(
            bundle.model,
            bundle.tokenizer,
            start_state,
            base_state,
            data,
            tcfg,
            cdir / "tune",
            model_sha256=bundle.info.sha256,
            log=lambda e: log.info("tune %s", json.dumps(e)),
        )
    except NothingLearnable as e:
        record_learnability(dd, e.report)
        raise
    record_learnability(dd, result.verification)
    if result.adapter is not None:
        save_adapter(result.adapter, tcfg, cdir / "adapter")
    result.state.save(cdir / CANDIDATE_STATE, {"cycle_id": str(cid)})
    return result.summary()


def record_learnability(dd: DataDir, verification: dict[str, Any]) -> None:
    """What the teacher could say, onto the bank: the gates score only values it said (eval/suites.py)."""
    misses: dict[int, list[dict[str, str]]] = {}
    for miss in verification.get("not_learnable", []):
        misses.setdefault(int(miss["item_id"]), []).append(miss)
    with dd.db.write() as s:
        for key in ("learnable", "replay_learnable"):
            for item, values in verification.get(key, {}).items():
                lost = misses.get(int(item), [])
                note = "; ".join(
                    f"not learnable by this model: with the memory in context, {m['question']!r} gets"
                    f" {m['said']!r}, not {m['value']!r}"
                    for m in lost
                )
                membank.mark_learnability(s, int(item), values, note=note or None)


def _with_curves(report: CycleReport, cdir: Path) -> CycleReport:
    report.loss_curve, report.val_curve = read_curves(cdir / "tune" / "tune.log")
    return report


def _write_reports(ctx: CycleContext, report: CycleReport) -> Path:
    """The cycle's report (with its tuning curve and what reflection decided, counted by reason)."""
    with ctx.data.db.read() as s:
        report.decisions = decision_summary((d.kept, d.reasons) for d in list_decisions(s, ctx.cycle_id))
    return write_report(_with_curves(report, ctx.cycle_dir), ctx.cycle_dir)


def _finish_skipped(ctx: CycleContext, report: CycleReport, reason: str) -> None:
    report.status = "skipped"
    report.notes.append(reason)
    path = _write_reports(ctx, report)
    with ctx.data.db.write() as s:
        cycles.transition(
            s,
            ctx.cycle_id,
            "skipped",
            result={
                "kept": len(report.kept),
                "rebuild": report.rebuild,
                "gates": {},
                "reason": reason,
                "verdict": verdict(report),
            },
            report_path=str(path),
        )
        record_event(s, "cycle.skipped", actor=ctx.actor, cycle_id=ctx.cycle_id, reason=reason)
    write_history(ctx.data)
