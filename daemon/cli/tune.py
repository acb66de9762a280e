"""`sleepd tune --cycle ID [--json]`: tune one cycle's candidate state (the night normally does this).

Runs under the cycle lock (so never beside a running cycle), at low priority (`[scheduler] cycle_nice`),
and resumes from the cycle's tuning checkpoint when one exists. It writes cycles/<ID>/candidate.safetensors
(plus adapter/ for LoRA); gating and promotion stay with the cycle (`sleepd sleep --now` resumes it).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from daemon.cli.common import DataDirOpt, Failure, JsonOpt, UsageError, emit_json, resolve
from daemon.init import open_data_dir
from daemon.locks import FileLock, LockBusy, cycle_lock_path
from daemon.model_path import load_base_model
from daemon.night import CANDIDATE_STATE, tune_for_cycle
from memory import cycles
from memory.forget import rebuild_pending


def register(app: typer.Typer) -> None:
    app.command("tune")(tune_cmd)


def tune_cmd(
    ctx: typer.Context,
    cycle: Annotated[int | None, typer.Option("--cycle", help="The cycle whose candidate to tune.")] = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Memory-tune the recurrent state on a cycle's kept memories (resumes from its checkpoint)."""
    opts = resolve(ctx, data_dir, as_json)
    if cycle is None:
        raise UsageError("give --cycle ID (see `sleepd status` for the latest cycle)")
    with open_data_dir(opts.data_dir) as dd:
        with dd.db.read() as s:
            c = cycles.get_cycle(s, cycle)
            rebuild = bool((c.result or {}).get("rebuild", rebuild_pending(s)))
            parent = c.parent_generation_id
        if c.status in ("pending", "reflecting"):
            raise UsageError(f"cycle {cycle} is {c.status}: it has no kept memories to tune on yet")
        try:
            lock = FileLock(cycle_lock_path(dd.paths)).acquire({"pid": os.getpid(), "command": "tune"})
        except LockBusy as e:
            raise Failure(f"a cycle is running ({e}); try again when it has finished") from None
        try:
            os.nice(max(0, dd.config.scheduler.cycle_nice))
            bundle = load_base_model(dd.config.model)
            store = dd.generations
            start = store.load_generation(parent).state if parent is not None else None
            base = store.load_generation(0).state
            zero = bundle.model.zero_state(1)
            summary = tune_for_cycle(dd, cycle, bundle, start or zero, base or zero, rebuild)
        finally:
            lock.release()
        if summary is None:
            raise Failure(f"cycle {cycle}: the kept memories have no probes to learn from")
        out = {
            "cycle_id": cycle,
            "candidate": str(dd.paths.cycle_dir(cycle) / CANDIDATE_STATE),
            "tune": summary,
        }
    if opts.json:
        emit_json(out)
    else:
        t = summary
        typer.echo(
            f"cycle {cycle}: tuned {t['steps']} steps, {t['tokens']} tokens in {t['seconds']} s "
            f"(stopped by {t['stopped_by']}, best step {t['best_step']}); candidate {out['candidate']}"
        )
