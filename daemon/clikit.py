"""Shared pieces of the typer CLI: global options, JSON output and one-line errors.

Every command accepts ``--json`` and ``--data-dir`` both before and after the subcommand
(``sleepd --json gen list`` and ``sleepd gen list --json`` are the same). Data goes to stdout,
logs and errors to stderr. Bad input raises :class:`UsageError`, which prints one line and exits 2.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

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


def die(message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"sleepd: error: {message}\n")
    raise typer.Exit(code)


def use_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ
