"""`sleepd serve [--host 127.0.0.1] [--port 8417]`. Mount with `register(app)` (adds the `serve` command)."""

from __future__ import annotations

from typing import Annotated

import typer

from daemon.cli.common import DataDirOpt, Failure, JsonOpt, UsageError, resolve
from memory.errors import InputError, IntegrityFailure


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)


def serve_cmd(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: [server] host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", min=0, max=65535, help="TCP port (default: [server] port, 8417; 0: any free)."
        ),
    ] = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Run the daemon: the HTTP API and the nightly sleep cycle, one instance per data directory.

    Stops cleanly on SIGTERM, SIGINT or SIGHUP. Under systemd (Type=notify) it reports READY, WATCHDOG and
    STOPPING. Logs go to stderr."""
    from daemon.process import ServeFailure, serve, setup_logging

    opts = resolve(ctx, data_dir, as_json)
    setup_logging()
    try:
        serve(opts.data_dir, host=host, port=port)
    except InputError as e:  # AlreadyRunning included: exit 2, naming the holder's pid
        raise UsageError(str(e)) from None
    except (ServeFailure, IntegrityFailure) as e:
        raise Failure(str(e)) from None
