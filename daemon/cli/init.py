"""`sleepd init [--model PATH]`. Mount with `register(app)` (adds the `init` command)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from daemon.cli.common import DataDirOpt, JsonOpt, emit_json, resolve
from daemon.init import init_data_dir


def register(app: typer.Typer) -> None:
    app.command("init")(init_cmd)


def init_cmd(
    ctx: typer.Context,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", help="Base model checkpoint (.pth or .safetensors); default: the embedded model."
        ),
    ] = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Create the data directory: config.toml, the database, the API token (0600) and generation 0.

    Safe to run again: it only creates what is missing and never overwrites or deletes anything."""
    opts = resolve(ctx, data_dir, as_json)
    res = init_data_dir(opts.data_dir, model_path=model)
    if opts.json:
        emit_json(res.to_dict())
        return
    typer.echo(f"data directory: {res.data_dir}")
    for item in res.created:
        typer.echo(f"  created {item}")
    for item in res.repaired:
        typer.echo(f"  repaired {item}")
    for note in res.notes:
        typer.echo(f"  {note}")
    if res.generation is not None:
        typer.echo(f"current generation: {res.generation}")
