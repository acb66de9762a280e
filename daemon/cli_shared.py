"""Helpers shared by the storage commands (init, log, gen): error mapping, tables, the audit actor.

`memory` cannot import `daemon`, so its errors are its own: `cli_errors()` turns them into the CLI's
(`InputError` -> `UsageError`, exit 2, one line; `IntegrityFailure` -> `Failure`, exit 1).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import typer

from daemon.clikit import Failure, UsageError
from memory.errors import InputError, IntegrityFailure


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    try:
        yield
    except InputError as e:
        raise UsageError(str(e)) from None
    except IntegrityFailure as e:
        raise Failure(str(e)) from None


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
