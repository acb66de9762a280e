"""The `sleepd` command line: a thin shell over the library packages.

Each noun is its own typer group, in its own module, mounted here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from daemon.cli.common import DataDirOpt, Failure, GlobalOptions, UsageError
from memory.errors import InputError, IntegrityFailure
from memory.version import sleepd_version

app = typer.Typer(
    name="sleepd",
    help="Long-term memory for an AI agent, kept in an RWKV-7 recurrent state and consolidated overnight.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"sleepd {sleepd_version()}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: DataDirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print data only, as JSON, on stdout.")] = False,
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = GlobalOptions(data_dir=Path(data_dir) if data_dir else None, json=as_json)


# Command groups, each a thin shell over library functions (see the modules for details).
from daemon.cli import (  # noqa: E402  (mounted after the root callback exists)
    chat,
    demo,
    evaluate,
    gen,
    init,
    log,
    memories,
    reflect,
    serve,
    service,
    sleep,
    status,
    tune,
)

init.register(app)
log.register(app)
gen.register(app)
serve.register(app)
chat.register(app)
sleep.register(app)
status.register(app)
service.register(app)
reflect.register(app)
memories.register(app)
tune.register(app)
evaluate.register(app)
demo.register(app)


def exit_status(error: BaseException) -> tuple[int, str] | None:
    """The one mapping from errors to exit codes: (code, the line for stderr), or None for an error that is
    a bug (a traceback is the right output then). 2: bad usage or bad input; 1: a failure."""
    if isinstance(error, UsageError | InputError):
        return 2, f"sleepd: error: {error}"
    if isinstance(error, Failure | IntegrityFailure):
        return 1, f"sleepd: {error}"
    if isinstance(error, typer.Abort):
        return 1, "sleepd: aborted"
    if isinstance(error, KeyboardInterrupt):
        return 130, ""
    return None


def main() -> None:
    """Console-script entry point: runs the app and maps errors to exit codes (`exit_status`)."""
    try:
        app(standalone_mode=False)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except BaseException as e:
        status = exit_status(e)
        if status is None:
            # Typer vendors click; its usage errors carry `show()` and `exit_code` (2).
            if hasattr(e, "show") and isinstance(getattr(e, "exit_code", None), int):
                e.show()
                sys.exit(e.exit_code)
            raise
        code, line = status
        if line:
            sys.stderr.write(line + "\n")
        sys.exit(code)


if __name__ == "__main__":
    main()
