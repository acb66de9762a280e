"""`sleepd service install | uninstall | status`: the systemd user unit. Mount with `register(app)`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from daemon import systemd_unit
from daemon.cli.common import DataDirOpt, JsonOpt, command_group, emit_json, resolve
from daemon.paths import DataPaths, resolve_data_dir
from memory.errors import InputError

service_app, register = command_group(
    "service",
    "The systemd user unit (Type=notify, watchdog, restart on failure): install, uninstall, status.",
)

UnitDirOpt = Annotated[
    Path | None,
    typer.Option("--unit-dir", help="Where the unit goes (default: ~/.config/systemd/user)."),
]


@service_app.command("install")
def install_cmd(
    ctx: typer.Context,
    enable: Annotated[
        bool, typer.Option("--enable", help="Also run systemctl --user daemon-reload and enable --now.")
    ] = False,
    unit_dir: UnitDirOpt = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Write ~/.config/systemd/user/sleepd.service running `sleepd --data-dir DIR serve`."""
    opts = resolve(ctx, data_dir, as_json)
    paths = DataPaths(resolve_data_dir(opts.data_dir))
    if not paths.is_initialised():
        raise InputError(f"{paths.root}: not a sleepd data directory (run `sleepd init` first)")
    res = systemd_unit.install(paths.root, unit_dir=unit_dir, enable=enable)
    if opts.json:
        emit_json(res)
        return
    typer.echo(f"{'wrote' if res['changed'] else 'unchanged'}: {res['path']}")
    for m in res["messages"]:
        typer.echo(f"  {m}", err=True)
    if not res["enabled"]:
        typer.echo("to start it now and at every login:")
        typer.echo("  systemctl --user daemon-reload && systemctl --user enable --now sleepd")
        typer.echo("to keep it running without a login session: loginctl enable-linger $USER")


@service_app.command("uninstall")
def uninstall_cmd(
    ctx: typer.Context,
    disable: Annotated[
        bool, typer.Option("--disable", help="Run systemctl --user disable --now first.")
    ] = False,
    unit_dir: UnitDirOpt = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Remove the unit file written by `install` (stop it first, or pass --disable)."""
    opts = resolve(ctx, data_dir, as_json)
    res = systemd_unit.uninstall(unit_dir=unit_dir, disable=disable)
    if opts.json:
        emit_json(res)
        return
    typer.echo(f"removed: {res['path']}" if res["removed"] else f"not installed: {res['path']}")
    for m in res["messages"]:
        if m != "not installed":
            typer.echo(f"  {m}", err=True)


@service_app.command("status")
def status_cmd(
    ctx: typer.Context, unit_dir: UnitDirOpt = None, as_json: JsonOpt = False, data_dir: DataDirOpt = None
) -> None:
    """Whether the unit is installed, and what systemd says about it (when systemd can be asked)."""
    opts = resolve(ctx, data_dir, as_json)
    res = systemd_unit.status(unit_dir=unit_dir)
    if opts.json:
        emit_json(res)
        return
    typer.echo(f"unit:    {res['path']} ({'installed' if res['installed'] else 'not installed'})")
    if res["exec_start"]:
        typer.echo(f"runs:    {res['exec_start']}")
    sd = res["systemd"]
    if sd["available"]:
        typer.echo(f"systemd: {sd['active'] or 'unknown'}, {sd['enabled'] or 'unknown'}")
    else:
        typer.echo(f"systemd: unavailable ({sd['error']})")
