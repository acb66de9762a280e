"""`sleepd demo [--days N] [--seed S] [--keep DIR] [--json]`: sleepd remembering, within minutes.

Mount with `register(app)`. The work is daemon/demo.py's `run_demo`; this module shows it: on a terminal a
live view of the day, the phase and a running table; otherwise one JSON line per event on stderr. At the end
one row per day and the path of the history report (kept only with --keep). `--json`: the result as JSON
on stdout (docs/ARCHITECTURE.md: {"days": [...], "summary": {...}}).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from daemon.cli.common import DataDirOpt, JsonOpt, UsageError, emit_json, resolve
from daemon.demo import DemoConfig, DemoResult, run_demo


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def _table(rows: list[dict[str, Any]]):
    from rich.table import Table

    t = Table(
        title='sleepd demo: one row per night (new facts, earlier facts, "I don\'t know." when never told)',
        show_lines=False,
    )
    # Short headers, nothing wrapped: it fits 80 columns; a rejected night's reason follows the table.
    for col in ("day", "facts", "new", "earlier", "never told", "bits/byte (base)", "night"):
        t.add_column(col, no_wrap=True)
    for r in rows:
        bpb = (
            "-" if r["general_bpb"] is None else f"{r['general_bpb']:.3f} ({r['general_bpb_base'] or 0:.3f})"
        )
        t.add_row(
            str(r["day"]),
            str(r["facts"]),
            _pct(r["acquisition"]),
            _pct(r["retention"]),
            _pct(r["abstention"]),
            bpb,
            r["status"],
        )
    return t


def _live_view(days: int):
    """(on_event, close) drawing a rich Live view on stderr."""
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text

    console = Console(stderr=True)
    rows: list[dict[str, Any]] = []
    status = Text("starting sleepd serve ...")
    live = Live(Group(status, _table(rows)), console=console, refresh_per_second=4, transient=False)
    live.start()

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "phase":
            status.plain = f"day {data['day']} of {days}: {data['phase']}"
            if data.get("facts") is not None:
                status.plain += f" ({data['facts']} new or changed facts today)"
        elif kind == "day":
            rows.append(data)
        live.update(Group(status, _table(rows)))

    def close() -> None:
        status.plain = "done"
        live.update(Group(status, _table(rows)))
        live.stop()

    return on_event, close


def demo_cmd(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", min=1, max=30, help="Simulated days (and nights).")] = 5,
    seed: Annotated[
        int, typer.Option("--seed", min=0, max=999, help="Persona world (evaluation seeds).")
    ] = 11,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Tuning steps per night.")] = DemoConfig.steps,
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Keep the data directory (and its reports) here.")
    ] = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """A compressed multi-day run on the embedded default model: a simulated user talks to a real `sleepd
    serve` by day, real sleep cycles by night, questions with no context every morning."""
    opts = resolve(ctx, data_dir, as_json)
    if opts.data_dir is not None:
        raise UsageError("the demo uses a data directory of its own: use --keep DIR to keep it")
    cfg = DemoConfig(days=days, seed=seed, steps=steps, keep=keep)
    live = sys.stderr.isatty() and not opts.json
    if live:
        on_event, close = _live_view(days)
    else:

        def on_event(kind: str, data: dict[str, Any]) -> None:
            print(json.dumps({"event": kind, **data}), file=sys.stderr, flush=True)

        def close() -> None:
            return None

    try:
        try:
            result: DemoResult = run_demo(cfg, on_event)
        except FileExistsError as e:
            raise UsageError(str(e)) from None
    finally:
        close()
    out = result.to_json()
    if opts.json:
        emit_json(out)
        return
    if not live:
        from rich.console import Console

        Console().print(_table(out["days"]))
    for r in out["days"]:
        if r["reason"]:
            typer.echo(f"day {r['day']}: {r['reason']}")
    s = out["summary"]
    typer.echo(
        f"{s['promoted']} of {s['nights']} nights promoted in {s['minutes']} minutes; "
        + (f"history report: {s['report']}" if keep else "run with --keep DIR to keep the reports")
    )
