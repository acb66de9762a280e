"""`sleepd status [--json]`: is the daemon running, which generation it serves, the last and next cycle.

Mount with `register(app)`. Reads only (never migrates or writes); works whether or not the daemon runs.
"""

from __future__ import annotations

import http.client
import json
from datetime import datetime
from typing import Any

import typer

from daemon.cli.common import DataDirOpt, JsonOpt, emit_json, resolve, short_time
from daemon.init import open_data_dir
from daemon.locks import cycle_lock_path, is_locked, read_lock_info, running_daemon
from memory import cycles
from memory.generations import current_generation_id


def register(app: typer.Typer) -> None:
    app.command("status")(status_cmd)


def served_generation(host: str, port: int, timeout: float = 2.0) -> int | None:
    """The generation a running daemon serves, from its /health (None when it does not answer)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/health")
        resp = conn.getresponse()
        if resp.status != 200:
            return None
        gen = json.loads(resp.read()).get("generation")
        return gen if isinstance(gen, int) else None
    except (OSError, ValueError):
        return None
    finally:
        conn.close()


def status_data(data_dir: Any = None, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything `sleepd status --json` prints."""
    from daemon.scheduler import next_fire_time

    with open_data_dir(data_dir, migrate_db=False) as dd:
        paths, cfg = dd.paths, dd.config
        with dd.db.read() as s:
            current = current_generation_id(s)
            last = cycles.list_cycles(s, limit=1)
            last_cycle = (
                {
                    "cycle_id": last[0].id,
                    "status": last[0].status,
                    "trigger": last[0].trigger,
                    "created_at": last[0].created_at.isoformat(),
                    "finished_at": last[0].finished_at.isoformat() if last[0].finished_at else None,
                    "generation_id": last[0].candidate_generation_id,
                    "report": last[0].report_path,
                }
                if last
                else None
            )
    info = running_daemon(paths)
    daemon: dict[str, Any] = {"running": info is not None, "pid": None, "url": None, "started_at": None}
    served = None
    if info is not None:
        daemon.update(pid=info.pid, url=info.url, started_at=info.started_at)
        served = served_generation(info.host, info.port)
    cycle_running = None
    lock = cycle_lock_path(paths)
    if is_locked(lock):
        holder = read_lock_info(lock)
        cycle_running = {
            "pid": holder.get("child_pid", holder.get("pid")),
            "trigger": holder.get("trigger"),
            "started_at": holder.get("started_at"),
        }
    nxt = next_fire_time(cfg.scheduler, now or datetime.now().astimezone())
    return {
        "data_dir": str(paths.root),
        "daemon": daemon,
        "current_generation": current,
        "served_generation": served,
        "last_cycle": last_cycle,
        "cycle_running": cycle_running,
        "scheduler": {
            "enabled": cfg.scheduler.enabled,
            "time": cfg.scheduler.time,
            # Only a running daemon runs the nightly cycle.
            "next_run": nxt.isoformat() if nxt is not None and info is not None else None,
        },
    }


def status_cmd(ctx: typer.Context, as_json: JsonOpt = False, data_dir: DataDirOpt = None) -> None:
    """Show whether the daemon runs, the generation it serves, the last cycle and the next scheduled run."""
    opts = resolve(ctx, data_dir, as_json)
    data = status_data(opts.data_dir)
    if opts.json:
        emit_json(data)
        return
    d = data["daemon"]
    typer.echo(f"data directory: {data['data_dir']}")
    if d["running"]:
        typer.echo(f"daemon:         running (pid {d['pid']}, {d['url']})")
    else:
        typer.echo("daemon:         not running (start it with `sleepd serve` or `sleepd service install`)")
    cur, served = data["current_generation"], data["served_generation"]
    gen = f"{cur}" if served is None or served == cur else f"{cur} (serving {served}: fallback)"
    typer.echo(f"generation:     {gen}")
    c = data["last_cycle"]
    if c is None:
        typer.echo("last cycle:     none yet")
    else:
        typer.echo(
            f"last cycle:     {c['cycle_id']} {c['status']} ({c['trigger']}, {short_time(c['created_at'])})"
        )
    if data["cycle_running"]:
        r = data["cycle_running"]
        typer.echo(f"cycle running:  pid {r['pid']} ({r['trigger']}, since {short_time(r['started_at'])})")
    sch = data["scheduler"]
    if not sch["enabled"]:
        typer.echo("next run:       never (the scheduler is disabled in config.toml)")
    elif sch["next_run"] is None:
        typer.echo(f"next run:       {sch['time']} nightly, once the daemon runs")
    else:
        typer.echo(f"next run:       {sch['next_run'][:16].replace('T', ' ')} (local time)")
