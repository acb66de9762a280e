"""`sleepd eval run [--generation ID]` and `sleepd eval report [--cycle ID | --all]`.

Mount with `register(app)`. `run` re-evaluates a generation on today's suites (daemon/reevaluate.py);
`report` prints the path of a cycle's HTML report, or rewrites and prints the history report across every
generation (eval/history.py). A bad generation or cycle id exits 2 with one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from daemon.cli.common import DataDirOpt, JsonOpt, command_group, emit_json, resolve
from daemon.init import open_data_dir
from eval.history import history_data, write_history
from memory import cycles
from memory.errors import InputError

eval_app, register = command_group("eval", "Re-evaluate a generation; find the cycle and history reports.")


AllOpt = Annotated[bool, typer.Option("--all", help="The history report across every generation.")]


@eval_app.command("run")
def run_cmd(
    ctx: typer.Context,
    generation: Annotated[
        int | None, typer.Option("--generation", help="Generation id (default: the current one).")
    ] = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Run every gate on a generation, with the suites the memory bank gives today."""
    from daemon.reevaluate import evaluate_generation  # loads torch: only for this command

    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd:
        result = evaluate_generation(dd, generation)
    if opts.json:
        emit_json(result)
        return
    verdict = "passes every gate" if result["passed"] else "fails " + ", ".join(result["failed"])
    typer.echo(f"generation {result['generation_id']} {verdict} on today's suites")
    for name, g in result["gates"].items():
        value = "-" if g["value"] is None else f"{g['value']:.3f}"
        threshold = "-" if g["threshold"] is None else f"{g['threshold']:.3f}"
        typer.echo(f"  {name:17s} {value:>7s}  (threshold {threshold}) {'ok' if g['passed'] else 'FAILED'}")
    for day, d in sorted(result["by_day"].items()):
        typer.echo(f"  memories of cycle {day}: {d['correct']} of {d['questions']} questions right")
    typer.echo(f"written to {result['path']}")


def report_path(data_dir: Any, cycle_id: int | None, all_generations: bool) -> dict[str, Any]:
    """What `sleepd eval report` prints: the report's path (and, for --all, the history's figures)."""
    if (cycle_id is None) == (not all_generations):
        raise InputError("give one of --cycle ID or --all")
    with open_data_dir(data_dir) as dd:
        if all_generations:
            path = write_history(dd)
            return {"path": str(path), "history": history_data(dd)}
        with dd.db.read() as s:
            cycle = cycles.get_cycle(s, cycle_id)  # NotFound: exit 2
        html = Path(cycle.report_path).with_suffix(".html") if cycle.report_path else None
        if html is None or not html.is_file():
            raise InputError(f"cycle {cycle_id} ({cycle.status}) has no report yet")
        return {"path": str(html), "cycle_id": cycle.id, "status": cycle.status}


@eval_app.command("report")
def report_cmd(
    ctx: typer.Context,
    cycle: Annotated[int | None, typer.Option("--cycle", help="A cycle's report.html.")] = None,
    all_generations: AllOpt = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Print the path of a cycle's report, or rewrite the history report and print its path."""
    opts = resolve(ctx, data_dir, as_json)
    out = report_path(opts.data_dir, cycle, all_generations)
    if opts.json:
        emit_json(out)
    else:
        typer.echo(out["path"])
