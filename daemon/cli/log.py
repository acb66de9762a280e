"""`sleepd log import FILE.jsonl | list | show ID`: the interaction log.

Mount with `register(app)` (adds the `log` group).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from daemon.cli.common import DataDirOpt, JsonOpt, command_group, emit_json, print_table, resolve, short_time
from daemon.init import open_data_dir
from memory import log as memlog

log_app, register = command_group("log", "The interaction log: import conversations, list and show them.")


@log_app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSONL file, one import-format conversation per line.")],
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Import conversations from a JSONL file (message ids are kept).

    Every line is validated first; a bad line is reported with its line number and nothing is imported.
    Re-importing the same file adds nothing."""
    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd:
        items = memlog.read_jsonl(file)  # all lines validated before the write transaction opens
        with dd.db.write() as s:
            res = memlog.import_conversations(s, items, source="import", label=str(file))
    data = {
        "conversations": res.conversations,
        "messages_added": res.messages_added,
        "messages_skipped": res.messages_skipped,
    }
    if opts.json:
        emit_json(data)
    else:
        typer.echo(
            f"imported {res.conversations} conversations: {res.messages_added} messages added, "
            f"{res.messages_skipped} already present"
        )


@log_app.command("list")
def list_cmd(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="At most this many conversations.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many (newest first).")] = 0,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """List conversations, most recently active first."""
    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd, dd.db.read() as s:
        rows = [c.to_dict() for c in memlog.list_conversations(s, limit=limit, offset=offset)]
    if opts.json:
        emit_json(rows)
        return
    if not rows:
        typer.echo("no conversations")
        return
    print_table(
        ["ID", "SOURCE", "MESSAGES", "LAST MESSAGE"],
        [[r["id"], r["source"], r["messages"], short_time(r["last_at"])] for r in rows],
    )


@log_app.command("show")
def show_cmd(
    ctx: typer.Context,
    conversation_id: Annotated[str, typer.Argument(metavar="ID", help="Conversation id.")],
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Show one conversation with its messages and feedback."""
    opts = resolve(ctx, data_dir, as_json)
    with open_data_dir(opts.data_dir) as dd, dd.db.read() as s:
        data = memlog.get_conversation(s, conversation_id).to_dict()
    if opts.json:
        emit_json(data)
        return
    typer.echo(f"conversation {data['id']}  ({data['source']}, {len(data['messages'])} messages)")
    if data["metadata"]:
        typer.echo(f"metadata: {data['metadata']}")
    for m in data["messages"]:
        who = m["role"] + (f" ({m['name']})" if m["name"] else "")
        typer.echo(f"\n[{m['id']}] {who}  {short_time(m['created_at'])}")
        typer.echo(m["content"])
        for fb in m["feedback"]:
            note = f": {fb['note']}" if fb["note"] else ""
            typer.echo(f"  feedback {fb['rating']:+.2f}{note}")
