"""Shared pieces of the typer CLI: global options, JSON output, tables, the audit actor.

Every command accepts ``--json`` and ``--data-dir`` both before and after the subcommand
(``sleepd --json gen list`` and ``sleepd gen list --json`` are the same). Data goes to stdout,
logs and errors to stderr. Errors map to exit codes in one place, `daemon.cli.exit_status`: bad usage or
bad input (`UsageError`, and the library's `InputError`) prints one line and exits 2; a failure
(`Failure`, and the library's `IntegrityFailure`) exits 1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print data only, as JSON, on stdout.")]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", envvar="SLEEPD_HOME", help="Data directory (default: platformdirs user data dir)."
    ),
]


class UsageError(Exception):
    """Bad usage or bad input: reported as one line on stderr, exit code 2."""


class Failure(Exception):
    """The command ran but failed (exit code 1), e.g. `gen verify` found a corrupt file."""


@dataclass
class GlobalOptions:
    data_dir: Path | None = None
    json: bool = False


def global_options(ctx: typer.Context) -> GlobalOptions:
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalOptions):
        root.obj = GlobalOptions()
    return root.obj


def resolve(ctx: typer.Context, data_dir: Path | None, as_json: bool) -> GlobalOptions:
    """Merge command-level options over the root-level ones."""
    g = global_options(ctx)
    return GlobalOptions(data_dir=data_dir or g.data_dir, json=as_json or g.json)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def actor(command: str) -> str:
    """How the audit log names this process: `cli:gen promote (pid 123)`."""
    return f"cli:{command} (pid {os.getpid()})"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Plain aligned columns on stdout (no colour: output is often piped)."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for r in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def short_time(iso: str | None) -> str:
    """2025-01-02T03:04:05.123456+00:00 -> 2025-01-02 03:04:05Z (UTC, for tables)."""
    if not iso:
        return ""
    return iso[:19].replace("T", " ") + "Z"


def command_group(name: str, help: str) -> tuple[typer.Typer, Callable[[typer.Typer], None]]:
    """A `sleepd NAME ...` command group and the `register(app)` that mounts it on the main app."""
    group = typer.Typer(name=name, help=help, no_args_is_help=True)

    def register(app: typer.Typer) -> None:
        app.add_typer(group, name=name)

    return group, register
