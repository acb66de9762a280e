"""`sleepd reflect --dry-run [--budget-fraction F] [--max-tokens N] [--all] [--json]`.

Mount with `register(app)` (adds the `reflect` command). A thin shell over `reflection.run_reflection`:
what tonight's reflection would keep, and why, from the messages logged since the last cycle's watermark
(`--all`: the whole log), scored against the current generation's state. It writes nothing.

`--json` prints exactly the docs/ARCHITECTURE.md shape {"total_tokens", "kept_tokens", "kept", "dropped"}; the
redaction counts (never values) and the scorers' notes go to stderr. Without `--json` a readable report
shows the same, plus the counts and notes.

Only the dry run exists here: the real reflection runs inside a sleep cycle (`sleepd sleep --now`), whose
decisions are stored with that cycle.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from daemon.cli.common import DataDirOpt, JsonOpt, UsageError, emit_json, resolve
from daemon.init import DataDir, open_data_dir
from memory.cycles import next_watermark_from
from memory.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("reflect")(reflect_cmd)


def load_model_and_state(dd: DataDir):
    """(bundle, state) for reflection: the configured base model (sha256 checked) and the current
    generation's state."""
    from daemon.model_path import load_base_model

    bundle = load_base_model(dd.config.model)
    loaded = dd.generations.load_current_state(actor="cli:reflect")
    if loaded.is_fallback:
        sys.stderr.write(
            f"sleepd: warning: current generation unusable; using generation {loaded.generation_id}\n"
        )
    return bundle, loaded.state


def reflect_cmd(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be kept and why; change nothing.")
    ] = False,
    budget_fraction: Annotated[
        float | None,
        typer.Option(
            "--budget-fraction", min=0.0, max=1.0, help="Keep at most this share of the day's tokens."
        ),
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=0, help="Keep at most this many tokens.")
    ] = None,
    all_messages: Annotated[
        bool, typer.Option("--all", help="Reflect on the whole log, not only since the last cycle.")
    ] = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """What tonight's reflection would keep, and why (scores, reasons, redaction counts)."""
    if not dry_run:
        raise UsageError(
            "reflect runs only as --dry-run; the real reflection is part of `sleepd sleep --now`"
        )
    opts = resolve(ctx, data_dir, as_json)
    from reflection.config import ReflectionConfig
    from reflection.pipeline import run_reflection

    with open_data_dir(opts.data_dir) as dd:
        config = getattr(dd.config, "reflection", None) or ReflectionConfig()
        try:
            config = config.with_budget(budget_fraction, max_tokens)
        except ValueError as e:
            raise InputError(str(e)) from None
        with dd.db.read() as s:
            since = 0 if all_messages else next_watermark_from(s)
        bundle, state = load_model_and_state(dd)
        result = run_reflection(dd.db, bundle, state, since_watermark=since, config=config, dry_run=True)
    if opts.json:
        emit_json(result.as_dry_run_json())
        _stderr_summary(result)
        return
    _print_report(result)


def _counts(redactions: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(redactions.items())) or "none"


def _stderr_summary(result) -> None:
    sys.stderr.write(f"sleepd: redacted: {_counts(result.redactions)}\n")
    for note in result.notes:
        sys.stderr.write(f"sleepd: {note}\n")


def _print_report(result) -> None:
    data = result.as_report()
    kept, dropped = data["kept"], data["dropped"]
    typer.echo(
        f"{result.messages} messages since watermark {result.watermark_from}: {data['total_tokens']} tokens, "
        f"budget {data['budget_tokens']}, kept {data['kept_tokens']} in {len(kept)} parts, "
        f"dropped {len(dropped)}"
    )
    typer.echo(f"redacted: {_counts(result.redactions)}")
    for note in result.notes:
        typer.echo(f"note: {note}")
    if kept:
        typer.echo("\nKEPT")
    for row in kept:
        typer.echo(f"  [{', '.join(row['source_message_ids'])}] {row['score']:.3f}  {row['text']}")
        typer.echo(f"      {'; '.join(row['reasons'])}")
    if dropped:
        typer.echo("\nDROPPED")
    for row in dropped:
        typer.echo(
            f"  [{', '.join(row['source_message_ids'])}] {row['score']:.3f}  {'; '.join(row['reasons'])}"
        )
