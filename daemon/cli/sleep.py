"""`sleepd sleep --now [--json]`: one full sleep cycle now. Mount with `register(app)`.

The cycle runs in a niced child process under the same lock as the daemon's nightly job and
`POST /v1/sleep`, so it refuses (exit 1, naming the pid) while another cycle runs. Ctrl-C stops the child
cleanly (the cycle is recorded as interrupted). Exit status: 0 when the cycle finished (promoted, rejected or
skipped), 1 when it failed or could not start.
"""

from __future__ import annotations

from typing import Annotated

import typer

from daemon.cli.common import DataDirOpt, Failure, JsonOpt, UsageError, emit_json, resolve
from daemon.cycle import CycleBusy, CycleRunner
from daemon.init import open_data_dir
from memory import cycles


def register(app: typer.Typer) -> None:
    app.command("sleep")(sleep_cmd)


def sleep_cmd(
    ctx: typer.Context,
    now: Annotated[bool, typer.Option("--now", help="Run one full cycle now (required).")] = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Run one full sleep cycle now: reflect, tune, gate, promote or reject."""
    opts = resolve(ctx, data_dir, as_json)
    if not now:
        raise UsageError("give --now to run a cycle now (the nightly cycle runs from `sleepd serve`)")
    with open_data_dir(opts.data_dir) as dd:
        paths, cfg = dd.paths, dd.config
    runner = CycleRunner(
        paths, nice=cfg.scheduler.cycle_nice, stop_timeout=cfg.scheduler.cycle_stop_timeout_seconds
    )
    try:
        handle = runner.start("cli")
    except CycleBusy as e:
        raise Failure(str(e)) from None
    try:
        while not handle.wait(0.5):
            pass
    except KeyboardInterrupt:
        runner.stop()
        raise typer.Exit(130) from None
    if handle.result is None:
        raise Failure(handle.error or "the cycle failed")
    result = handle.result
    if opts.json:
        emit_json(result)
    else:
        with open_data_dir(paths.root) as dd, dd.db.read() as s:
            c = cycles.get_cycle(s, result["cycle_id"])
            reason = (c.result or {}).get("reason") or c.error
            said = (c.result or {}).get("verdict")
        typer.echo(f"cycle {result['cycle_id']}: {result['status']}" + (f" ({reason})" if reason else ""))
        if said:
            typer.echo(f"  {said}")
        if result["generation_id"] is not None:
            typer.echo(f"  generation: {result['generation_id']} (parent {result['parent_generation_id']})")
        typer.echo(f"  kept: {result['kept']}")
        for name, gate in result["gates"].items():
            mark = "pass" if gate.get("passed") else "FAIL"
            typer.echo(
                f"  gate {name}: {mark} (value {gate.get('value')}, threshold {gate.get('threshold')})"
            )
        if result["report"]:
            typer.echo(f"  report: {result['report']}")
    if result["status"] == "failed":
        raise typer.Exit(1)
