"""`sleepd memories list | show ID | search TEXT | forget ID`: the memory bank.

Mount with `register(app)` (adds the `memories` group). Thin shells over memory.bank and
reflection.pipeline:
- `list` shows active items by default (`--status superseded|forgotten|all` for the rest);
- `show` prints one item with its probes and its supersede history (old values stay readable);
- `search` is a case-insensitive substring search over text and slot;
- `forget` marks the item and its probes forgotten (nothing is deleted) and schedules a rebuild: the next
  cycle tunes from the base state on the remaining bank, so the forgotten item cannot come back through
  replay or a warm start. The flag is derived from the database (`reflection.rebuild_pending`), and the
  audit log records both the forget and the scheduled rebuild.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from daemon.cli.common import (
    DataDirOpt,
    JsonOpt,
    actor,
    command_group,
    emit_json,
    print_table,
    resolve,
    short_time,
)
from daemon.init import open_data_dir
from memory import bank as membank
from memory.errors import InputError
from memory.schema import MEMORY_STATUSES, Memory

memories_app, register = command_group("memories", "The memory bank: list, show, search, forget.")

MemId = Annotated[int, typer.Argument(metavar="ID", help="Memory id.")]
StatusOpt = Annotated[
    str, typer.Option("--status", help=f"One of {', '.join(MEMORY_STATUSES)} or all.", show_default=True)
]


def _status(value: str) -> str | None:
    if value == "all":
        return None
    if value not in MEMORY_STATUSES:
        raise InputError(f"--status must be one of {', '.join(MEMORY_STATUSES)} or all, got {value!r}")
    return value


def memory_json(m: Memory) -> dict[str, Any]:
    d = m.to_dict()
    return {
        "id": d["id"],
        "text": d["text"],
        "status": d["status"],
        "slot": {"subject": d["subject"], "relation": d["relation"], "value": d["value"]}
        if d["relation"]
        else None,
        "source_message_ids": list(d["source_message_ids"] or []),
        "created_at": d["created_at"],
        "created_cycle_id": d["created_cycle_id"],
        "superseded_by": d["superseded_by"],
        "superseded_at": d["superseded_at"],
        "forgotten_at": d["forgotten_at"],
        "facts": list(d["facts"] or []),
        "learnable": d["learnable"],
        "learn_note": d["learn_note"],
        "deferred_reason": d["deferred_reason"],
    }


def _short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        typer.echo("no memories")
        return
    print_table(
        ["ID", "STATUS", "SLOT", "CREATED", "TEXT"],
        [
            [
                r["id"],
                r["status"] + (", not learnable" if r["learnable"] is False else ""),
                f"{r['slot']['relation']}={r['slot']['value']}" if r["slot"] else "",
                short_time(r["created_at"]),
                _short(r["text"]),
            ]
            for r in rows
        ],
    )


@memories_app.command("list")
def list_cmd(
    ctx: typer.Context,
    status: StatusOpt = "active",
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many (oldest first).")] = 0,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """List memory items (active ones by default), oldest first."""
    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd, dd.db.read() as s:
        rows = [
            memory_json(m)
            for m in membank.list_memories(s, status=_status(status), limit=limit, offset=offset)
        ]
        waiting = len(membank.list_memories(s, status="deferred")) if status == "active" else 0
    if opts.json:
        emit_json(rows)
    else:
        _table(rows)
        if waiting:
            typer.echo(
                f"{waiting} stated fact(s) over a night's capacity wait, first in line for the next night "
                "(--status deferred)"
            )


@memories_app.command("show")
def show_cmd(
    ctx: typer.Context, memory_id: MemId, as_json: JsonOpt = False, data_dir: DataDirOpt = None
) -> None:
    """One memory item with its probes and its supersede history."""
    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd, dd.db.read() as s:
        mem = membank.get_memory(s, memory_id)
        data = memory_json(mem)
        data["forget_reason"] = mem.forget_reason
        data["probes"] = [
            {
                "id": p.id,
                "kind": p.kind,
                "prompt": p.prompt,
                "answer": p.answer,
                "split": p.split,
                "status": p.status,
            }
            for p in membank.list_probes(s, memory_ids=[memory_id], status=None)
        ]
        data["history"] = [
            {"id": h.id, "status": h.status, "value": h.value, "text": h.text}
            for h in membank.history(s, memory_id)
        ]
    if opts.json:
        emit_json(data)
        return
    slot = f"  ({data['slot']['relation']} = {data['slot']['value']})" if data["slot"] else ""
    typer.echo(f"memory {data['id']}  [{data['status']}]{slot}")
    typer.echo(f"  {data['text']}")
    typer.echo(f"  sources: {', '.join(data['source_message_ids']) or '-'}")
    typer.echo(f"  created: {short_time(data['created_at'])} (cycle {data['created_cycle_id'] or '-'})")
    if data["superseded_by"]:
        typer.echo(f"  superseded by {data['superseded_by']} at {short_time(data['superseded_at'])}")
    if data["forgotten_at"]:
        why = f": {data['forget_reason']}" if data["forget_reason"] else ""
        typer.echo(f"  forgotten at {short_time(data['forgotten_at'])}{why}")
    if data["deferred_reason"]:
        typer.echo(f"  {data['deferred_reason']}")
    for f in data["facts"]:
        learned = {True: "learnable", False: "not learnable by this model", None: "not tuned yet"}
        typer.echo(f"  states {f['relation']} = {f['value']} ({learned[f.get('learnable')]})")
    if data["learn_note"]:
        typer.echo(f"  {data['learn_note']}")
    if len(data["history"]) > 1:
        typer.echo("  history (oldest first):")
        for h in data["history"]:
            mark = "*" if h["id"] == data["id"] else " "
            typer.echo(f"   {mark} #{h['id']} [{h['status']}] {_short(h['text'], 60)}")
    if data["probes"]:
        typer.echo("  probes:")
        for p in data["probes"]:
            typer.echo(
                f"    #{p['id']} {p['kind']}/{p['split']} [{p['status']}] {p['prompt']!r} -> {p['answer']!r}"
            )


@memories_app.command("search")
def search_cmd(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="Case-insensitive substring.")],
    status: StatusOpt = "all",
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Find memory items whose text or slot contains TEXT (any status by default)."""
    opts = resolve(ctx, data_dir, as_json)
    if not text.strip():
        raise InputError("search TEXT must not be empty")
    with open_data_dir(opts.data_dir) as dd, dd.db.read() as s:
        rows = [memory_json(m) for m in membank.search_memories(s, text, status=_status(status), limit=limit)]
    if opts.json:
        emit_json(rows)
    else:
        _table(rows)


@memories_app.command("forget")
def forget_cmd(
    ctx: typer.Context,
    memory_id: MemId,
    reason: Annotated[str | None, typer.Option("--reason", help="Why; recorded in the audit log.")] = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Forget a memory: it and its probes are marked forgotten, and the next cycle rebuilds from base."""
    opts = resolve(ctx, data_dir, as_json)
    from memory.forget import forget_memory, rebuild_pending

    with open_data_dir(opts.data_dir) as dd, dd.db.write() as s:
        mem = forget_memory(s, memory_id, actor=actor("memories forget"), reason=reason)
        probes = len(membank.list_probes(s, memory_ids=[memory_id], status="forgotten"))
        pending = rebuild_pending(s)
        data = {**memory_json(mem), "probes_forgotten": probes, "rebuild_pending": pending}
    if opts.json:
        emit_json(data)
        return
    typer.echo(f"memory {memory_id} forgotten ({probes} probes); the next cycle rebuilds from the base state")
