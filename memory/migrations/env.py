"""Alembic environment for sleepd.

`memory.db.migrate` passes an open connection (already inside a BEGIN IMMEDIATE transaction) through
`config.attributes["connection"]`. For writing a new revision by hand or with autogenerate, run from the
repository root:

    .venv/bin/alembic -c memory/migrations/alembic.ini -x db=/tmp/dev.db revision --autogenerate -m "..."

render_as_batch: SQLite cannot ALTER constraints, so every generated operation uses batch mode
(copy-and-rename of the table).
"""

from __future__ import annotations

from alembic import context

from memory.db import make_engine
from memory.schema import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    db = context.get_x_argument(as_dictionary=True).get("db")
    if not db:
        raise SystemExit("pass the database file with -x db=PATH")
    engine = make_engine(db, write=True, foreign_keys=False, wal=True)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; use memory.db.migrate")
run_migrations_online()
