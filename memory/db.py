"""SQLite access for sleepd: engines with the right pragmas, sessions, and migrations.

Every connection gets `busy_timeout`, `foreign_keys=ON` and `synchronous=FULL` (an acknowledged interaction
must survive power loss; in WAL mode that is one fsync of the WAL per commit). WAL is set when the file is
created (`migrate`) and persists in the file.

Transactions: Python's sqlite3 (3.11) begins transactions lazily and DEFERRED, which lets two writers both
read and then deadlock on the upgrade to a write lock. As SQLAlchemy documents for pysqlite, the connect hook
turns the driver's own transaction handling off (`isolation_level=None`) and a "begin" hook emits the BEGIN
itself: `BEGIN IMMEDIATE` on the write engine (the write lock is taken up front, so a writer waits
`busy_timeout` instead of failing mid-transaction, and message pks are assigned in commit order), plain
`BEGIN` on the read engine (a consistent snapshot; `query_only` makes an accidental write fail loudly).

Usage:
    db = Database(path)                 # after migrate(path)
    with db.write() as s: ...           # one BEGIN IMMEDIATE transaction, committed on success
    with db.read() as s: ...            # one read snapshot
In the daemon, writes go through `memory.writer.Writer` (one thread, group commit); CLI processes and tests
use `db.write()` directly. Library functions take a `Session` and never commit themselves.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from memory.errors import IntegrityFailure

DEFAULT_BUSY_TIMEOUT_MS = 10_000
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def make_engine(
    path: str | Path,
    *,
    write: bool = True,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    foreign_keys: bool = True,
    wal: bool = False,
) -> Engine:
    """An engine for the database file `path` with sleepd's per-connection pragmas.

    `write=False` gives deferred BEGINs and `query_only`; `wal=True` switches the file to WAL on connect
    (needed once, at creation; `migrate` does it)."""
    path = Path(path).resolve()
    # check_same_thread=False: the pool hands a connection to one thread at a time, possibly not its creator.
    engine = create_engine(_url(path), connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the "begin" hook below emits BEGIN itself
        cur = dbapi_conn.cursor()
        try:
            if wal:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cur.execute("PRAGMA synchronous=FULL")
            if not write:
                cur.execute("PRAGMA query_only=ON")
        finally:
            cur.close()

    begin_sql = "BEGIN IMMEDIATE" if write else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


class Database:
    """The sleepd database: a write engine (BEGIN IMMEDIATE) and a read engine (snapshots, query_only)."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        self.path = Path(path).resolve()
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no database (run `sleepd init` first)")
        self.busy_timeout_ms = busy_timeout_ms
        self.engine = make_engine(self.path, write=True, busy_timeout_ms=busy_timeout_ms)
        self.read_engine = make_engine(self.path, write=False, busy_timeout_ms=busy_timeout_ms)
        self._write_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE): committed when the block ends, rolled back on error."""
        with self._write_sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """One read snapshot; writes through it fail (query_only)."""
        with self._read_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()


# ---- migrations --------------------------------------------------------------------------------


def alembic_config(connection: Any = None):  # -> alembic.config.Config (imported lazily: CLI start-up time)
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(path: str | Path) -> str | None:
    """The revision the database file is at, or None for a file with no schema yet."""
    engine = make_engine(path, write=False)
    try:
        with engine.connect() as conn:
            has = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'"
            ).first()
            if not has:
                return None
            row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
            return row[0] if row else None
    finally:
        engine.dispose()


def migrate(path: str | Path, revision: str = "head") -> str:
    """Create or upgrade the database file to `revision` (default: the newest); returns the revision.

    Runs in one BEGIN IMMEDIATE transaction (SQLite DDL is transactional: a failed upgrade leaves the old
    schema). Foreign keys are off while migrating because batch mode rebuilds tables by copy-and-rename,
    and `PRAGMA foreign_key_check` must come back clean before the commit."""
    from alembic import command

    path = Path(path).resolve()
    engine = make_engine(path, write=True, foreign_keys=False, wal=True)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)
            bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if bad:
                raise IntegrityFailure(f"{path}: foreign key violations after migration: {bad[:5]}")
        with engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            if str(mode).lower() != "wal":
                raise IntegrityFailure(f"{path}: could not switch the database to WAL (mode {mode})")
    finally:
        engine.dispose()
    rev = current_revision(path)
    assert rev is not None
    return rev
