"""The `sleepd` command line: a thin shell over the library packages.

Each noun is its own typer group, in its own module, mounted here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from daemon.clikit import DataDirOpt, Failure, GlobalOptions, UsageError
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
from daemon import (  # noqa: E402  (mounted after the root callback exists)
    cli_chat,
    cli_demo,
    cli_eval,
    cli_gen,
    cli_init,
    cli_log,
    cli_memories,
    cli_reflect,
    cli_serve,
    cli_service,
    cli_sleep,
    cli_status,
    cli_tune,
)

cli_init.register(app)
cli_log.register(app)
cli_gen.register(app)
cli_serve.register(app)
cli_chat.register(app)
cli_sleep.register(app)
cli_status.register(app)
cli_service.register(app)
cli_reflect.register(app)
cli_memories.register(app)
cli_tune.register(app)
cli_eval.register(app)
cli_demo.register(app)


def main() -> None:
    """Console-script entry point: maps our error types to exit codes with one line on stderr."""
    try:
        app(standalone_mode=False)
    except UsageError as e:
        sys.stderr.write(f"sleepd: error: {e}\n")
        sys.exit(2)
    except (Failure, IntegrityFailure) as e:
        sys.stderr.write(f"sleepd: {e}\n")
        sys.exit(1)
    except InputError as e:
        sys.stderr.write(f"sleepd: error: {e}\n")
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.stderr.write("sleepd: aborted\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        # Typer vendors click; its usage errors carry `show()` and `exit_code` (2).
        if hasattr(e, "show") and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            sys.exit(e.exit_code)
        raise


if __name__ == "__main__":
    main()
