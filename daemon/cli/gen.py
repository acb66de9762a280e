"""`sleepd gen ...`: inspect, compare, switch, check and clean up memory generations.

Mount with `register(app)` (adds the `gen` group). Every command takes `--json`; every change takes
`--reason` and is recorded in the audit log with the command that made it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from daemon.cli.common import (
    DataDirOpt,
    Failure,
    JsonOpt,
    actor,
    command_group,
    emit_json,
    print_table,
    resolve,
    short_time,
)
from daemon.init import open_data_dir
from eval.history import write_history
from memory.generations import generation_list_json

gen_app, register = command_group(
    "gen", "Memory generations: list, show, diff, promote, rollback, pin, unpin, verify, gc."
)

ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why; recorded in the audit log.")]
GenId = Annotated[int, typer.Argument(metavar="ID", help="Generation id.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Promote even a candidate its gates rejected.")]
YesOpt = Annotated[bool, typer.Option("--yes", help="Really remove (default: only show what would go).")]


@gen_app.command("list")
def list_cmd(ctx: typer.Context, as_json: JsonOpt = False, data_dir: DataDirOpt = None) -> None:
    """List generations (the current one is marked *)."""
    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd, dd.db.read() as s:
        rows = generation_list_json(s)
    if opts.json:
        emit_json(rows)
        return
    if not rows:
        typer.echo("no generations (run `sleepd init`)")
        return
    print_table(
        ["", "ID", "PARENT", "STATUS", "PINNED", "CREATED"],
        [
            [
                "*" if r["current"] else "",
                r["id"],
                r["parent"],
                r["status"],
                "yes" if r["pinned"] else "",
                short_time(r["created_at"]),
            ]
            for r in rows
        ],
    )


@gen_app.command("show")
def show_cmd(
    ctx: typer.Context, gen_id: GenId, as_json: JsonOpt = False, data_dir: DataDirOpt = None
) -> None:
    """Show one generation: status, lineage, manifest, eval results and its audit events."""
    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd:
        data = dd.generations.show(gen_id)
    if opts.json:
        emit_json(data)
        return
    flags = [data["status"], data["kind"]]
    if data["current"]:
        flags.append("current")
    if data["pinned"]:
        flags.append("pinned")
    if data["removed_at"]:
        flags.append(f"files removed {short_time(data['removed_at'])}")
    typer.echo(f"generation {data['id']}  ({', '.join(flags)})")
    typer.echo(f"  parent:     {data['parent'] if data['parent'] is not None else '-'}")
    typer.echo(f"  children:   {', '.join(map(str, data['children'])) or '-'}")
    typer.echo(f"  created:    {short_time(data['created_at'])}")
    typer.echo(f"  cycle:      {data['cycle_id'] if data['cycle_id'] is not None else '-'}")
    typer.echo(f"  base model: {data['base_model_id']} (sha256 {data['base_model_sha256'][:12]}…)")
    typer.echo(f"  directory:  {data['dir']}")
    manifest = data["manifest"] or {}
    for rel, digest in sorted((manifest.get("files") or {}).items()):
        typer.echo(f"  file:       {rel}  sha256 {digest[:12]}…")
    if data["eval"]:
        typer.echo("  eval:")
        for key, value in data["eval"].items():
            typer.echo(f"    {key}: {value}")
    if data["events"]:
        typer.echo("  events:")
        for e in data["events"]:
            why = f"  ({e['reason']})" if e["reason"] else ""
            typer.echo(f"    {short_time(e['ts'])}  {e['action']}  by {e['actor']}{why}")


@gen_app.command("diff")
def diff_cmd(
    ctx: typer.Context,
    a: Annotated[int, typer.Argument(metavar="A", help="Older generation id.")],
    b: Annotated[int, typer.Argument(metavar="B", help="Newer generation id.")],
    top: Annotated[int, typer.Option(min=1, help="How many most-changed heads to list.")] = 10,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Compare two generations: per-layer state norms and cosine similarity, the heads that changed most,
    and the memories added and removed."""
    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd:
        data = dd.generations.diff(a, b, top_heads=top)
    if opts.json:
        emit_json(data)
        return
    typer.echo(f"generation {a} -> {b}")
    if data.get("layers") is None:
        typer.echo(f"  {data.get('note', 'no state diff')}")
    else:
        print_table(
            ["LAYER", "WKV NORM A", "WKV NORM B", "COSINE", "REL CHANGE"],
            [
                [
                    layer["layer"],
                    f"{layer['norm_a']['wkv']:.4g}",
                    f"{layer['norm_b']['wkv']:.4g}",
                    "-" if layer["cosine"] is None else f"{layer['cosine']:.4f}",
                    "-" if layer["relative_change"] is None else f"{layer['relative_change']:.4g}",
                ]
                for layer in data["layers"]
            ],
        )
        typer.echo("most-changed heads:")
        for h in data["heads"]:
            typer.echo(f"  layer {h['layer']} head {h['head']}: change {h['change']:.4g}")
    mems = data["memories"]
    typer.echo(f"memories added: {len(mems['added'])}, removed: {len(mems['removed'])}")
    for m in mems["added"]:
        typer.echo(f"  + [{m['id']}] {m['text']}")
    for m in mems["removed"]:
        typer.echo(f"  - [{m['id']}] {m['text']}")


@gen_app.command("promote")
def promote_cmd(
    ctx: typer.Context,
    gen_id: GenId,
    reason: ReasonOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Make a generation current (a running daemon switches to it within seconds)."""
    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd:
        sw = dd.generations.promote(gen_id, reason=reason, force=force, actor=actor("gen promote"))
        write_history(dd)  # the history report follows every switch
    _report_switch(sw.to_dict(), opts.json)


@gen_app.command("rollback")
def rollback_cmd(
    ctx: typer.Context,
    gen_id: Annotated[
        int | None,
        typer.Argument(metavar="[ID]", help="An ancestor of the current generation (default: parent)."),
    ] = None,
    reason: ReasonOpt = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Go back to an earlier generation (default: the parent of the current one)."""
    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd:
        sw = dd.generations.rollback(gen_id, reason=reason, actor=actor("gen rollback"))
        write_history(dd)
    _report_switch(sw.to_dict(), opts.json)


def _report_switch(data: dict, as_json: bool) -> None:
    if as_json:
        emit_json(data)
    elif not data["changed"]:
        typer.echo(f"generation {data['to']} is already current")
    else:
        typer.echo(f"current generation: {data['from']} -> {data['to']}")


@gen_app.command("pin")
def pin_cmd(
    ctx: typer.Context,
    gen_id: GenId,
    reason: ReasonOpt = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Pin a generation: `gen gc` never removes it."""
    _pin(ctx, gen_id, True, reason, as_json, data_dir)


@gen_app.command("unpin")
def unpin_cmd(
    ctx: typer.Context,
    gen_id: GenId,
    reason: ReasonOpt = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Unpin a generation."""
    _pin(ctx, gen_id, False, reason, as_json, data_dir)


def _pin(ctx: typer.Context, gen_id: int, pinned: bool, reason, as_json, data_dir) -> None:
    opts = resolve(ctx, data_dir, as_json)
    word = "pin" if pinned else "unpin"
    with open_data_dir(opts.data_dir) as dd:
        changed = dd.generations.set_pinned(gen_id, pinned, reason=reason, actor=actor(f"gen {word}"))
    if opts.json:
        emit_json({"id": gen_id, "pinned": pinned, "changed": changed})
    else:
        state = "pinned" if pinned else "not pinned"
        typer.echo(f"generation {gen_id} {'is now' if changed else 'was already'} {state}")


@gen_app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    gen_id: Annotated[
        int | None, typer.Argument(metavar="[ID]", help="One generation (default: all).")
    ] = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Check every file's sha256 against its manifest. Exit code 1 if anything fails."""
    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd:
        results = dd.generations.verify(gen_id)
    bad = [r for r in results if not r.ok]
    if opts.json:
        emit_json({"ok": not bad, "generations": [r.to_dict() for r in results]})
    else:
        for r in results:
            typer.echo(f"generation {r.generation_id}: {'ok' if r.ok else 'FAILED'}")
            for p in r.problems:
                typer.echo(f"  {p}")
            for w in r.warnings:
                typer.echo(f"  warning: {w}")
    if bad:
        ids = ", ".join(str(r.generation_id) for r in bad)
        raise Failure(f"verification failed for generation {ids}")


@gen_app.command("gc")
def gc_cmd(
    ctx: typer.Context,
    yes: YesOpt = False,
    reason: ReasonOpt = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Remove old generation files. Keeps generation 0, pinned ones, the current one and its nearest
    ancestors ([generations] keep_ancestors); removes rejected candidates older than
    [generations] gc_rejected_after_days. A dry run unless --yes."""
    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd:
        gcfg = dd.config.generations
        plan = dd.generations.gc(
            dry_run=not yes,
            keep_ancestors=gcfg.keep_ancestors,
            rejected_after_days=gcfg.gc_rejected_after_days,
            actor=actor("gen gc"),
            reason=reason,
        )
    if opts.json:
        emit_json(plan.to_dict())
        return
    verb = "would remove" if plan.dry_run else "removed"
    if not plan.remove and not plan.orphans:
        typer.echo("nothing to remove")
    for gid, why in plan.remove:
        typer.echo(f"{verb} generation {gid}: {why}")
    for name in plan.orphans:
        typer.echo(f"{verb} leftover directory generations/{name}")
    if plan.dry_run and (plan.remove or plan.orphans):
        typer.echo("(dry run: run `sleepd gen gc --yes` to remove)")
