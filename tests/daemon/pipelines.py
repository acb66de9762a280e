"""Pipelines for tests that exercise the cycle machinery (locks, child processes, the API, the scheduler),
not the night: loaded by path through SLEEPD_CYCLE_PIPELINE=<this file>:skip_pipeline."""

from __future__ import annotations

from pathlib import Path

from daemon.cycle_context import CycleContext
from memory import cycles
from model.fileio import atomic_write_text

THIS_FILE = Path(__file__).resolve()
SKIP_REASON = "a test pipeline: the machinery ran, no night"
SKIP_SPEC = f"{THIS_FILE}:skip_pipeline"


def skip_pipeline(ctx: CycleContext) -> None:
    """Records the cycle as skipped at once, with a one-line report (no watermark: its messages stay)."""
    report = ctx.cycle_dir / "report.md"
    report.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write_text(
        report,
        f"# Sleep cycle {ctx.cycle_id}\n\n- status: skipped\n- trigger: {ctx.trigger}\n"
        f"- reason: {SKIP_REASON}\n",
    )
    with ctx.data.db.write() as s:
        cycles.transition(
            s,
            ctx.cycle_id,
            "skipped",
            result={"kept": 0, "gates": {}, "reason": SKIP_REASON},
            report_path=str(report),
        )
