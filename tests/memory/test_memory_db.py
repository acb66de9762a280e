"""The database layer: migrations match the models, pragmas, BEGIN IMMEDIATE, the group-committing writer."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from memory import log
from memory.db import Database, current_revision, head_revision, make_engine, migrate
from memory.schema import Base, Conversation, Message
from memory.writer import Writer, WriterClosed


def test_migrations_match_models(db):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diffs = compare_metadata(ctx, Base.metadata)
    assert diffs == []


def test_migrate_sets_wal_and_is_idempotent(tmp_path):
    path = tmp_path / "x.db"
    assert migrate(path) == head_revision()
    assert migrate(path) == head_revision()  # second run: nothing to do
    assert current_revision(path) == head_revision()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file
    raw.close()


def test_downgrade_and_upgrade_round_trip(tmp_path):
    path = tmp_path / "x.db"
    migrate(path)
    from alembic import command

    from memory.db import alembic_config

    engine = make_engine(path, foreign_keys=False)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    engine.dispose()
    assert current_revision(path) is None
    assert migrate(path) == head_revision()


def test_connection_pragmas(db):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.busy_timeout_ms
    with db.read() as s:
        assert s.execute(text("PRAGMA query_only")).scalar() == 1


def test_foreign_keys_enforced(db):
    with pytest.raises(Exception, match="FOREIGN KEY"), db.write() as s:
        s.execute(text("INSERT INTO feedback (message_pk, rating, created_at) VALUES (999, 0.5, 'x')"))


def test_read_session_cannot_write(db):
    with pytest.raises(OperationalError, match="readonly"), db.read() as s:
        s.execute(text("INSERT INTO events (ts, action, actor, details_json) VALUES ('t', 'a', 'b', '{}')"))


def test_write_transaction_takes_the_lock_at_begin(db, tmp_path):
    """BEGIN IMMEDIATE: a second writer is refused at BEGIN, before it has read anything, not at its first
    write (which with DEFERRED would be a deadlock-prone upgrade)."""
    other = Database(db.path, busy_timeout_ms=50)
    try:
        with db.write() as s:
            s.execute(select(1))  # the transaction is open and holds the write lock
            with pytest.raises(OperationalError, match="locked"), other.write() as s2:
                s2.execute(select(1))
        with other.write() as s2:  # released after commit
            s2.execute(select(1))
    finally:
        other.dispose()


def _conv(cid: str, n: int = 2) -> dict:
    return {"conversation_id": cid, "messages": [{"role": "user", "content": f"m{i}"} for i in range(n)]}


def test_writer_group_commits_concurrent_calls(db):
    writer = Writer(db).start()
    ids: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        for i in range(25):
            cid, _ = writer.call(lambda s, k=k, i=i: log.add_interaction(s, _conv(f"c{k}-{i}")))
            with lock:
                ids.append(cid)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert len(ids) == 200 and writer.calls == 200
    assert writer.commits < writer.calls  # several calls shared a commit
    with db.read() as s:
        assert s.scalar(select(Conversation.id).where(Conversation.id == "c7-24")) == "c7-24"
        assert len(s.scalars(select(Message.pk)).all()) == 400


def test_writer_isolates_a_failing_call(db):
    """One failing call in a batch rolls back only its own writes and gets its own exception."""
    gate = threading.Event()
    with Writer(db) as writer:
        blocker = writer.submit(lambda s: gate.wait(5))  # holds the thread so the next calls batch together
        ok1 = writer.submit(lambda s: log.add_interaction(s, _conv("good-1")))
        bad = writer.submit(lambda s: (log.add_interaction(s, _conv("bad")), 1 / 0))
        ok2 = writer.submit(lambda s: log.add_interaction(s, _conv("good-2")))
        gate.set()
        blocker.result(5)
        assert ok1.result(5)[0] == "good-1" and ok2.result(5)[0] == "good-2"
        with pytest.raises(ZeroDivisionError):
            bad.result(5)
    with db.read() as s:
        ids = set(s.scalars(select(Conversation.id)))
    assert ids == {"good-1", "good-2"}


def test_writer_result_is_committed_when_returned(db):
    with Writer(db) as writer:
        writer.call(lambda s: log.add_interaction(s, _conv("seen")))
        raw = sqlite3.connect(db.path)  # a separate connection sees it at once: it was committed
        assert raw.execute("SELECT count(*) FROM messages WHERE conversation_id='seen'").fetchone()[0] == 2
        raw.close()


def test_writer_close_drains_and_refuses_more(db):
    writer = Writer(db).start()
    futs = [writer.submit(lambda s, i=i: log.add_interaction(s, _conv(f"d{i}"))) for i in range(50)]
    writer.close()
    assert all(f.done() and f.exception() is None for f in futs)
    with pytest.raises(WriterClosed):
        writer.submit(lambda s: None)


def test_writer_throughput_smoke(db):
    """Not a benchmark (bench/api.py is): group commit must keep the pure DB path well above 500/s."""
    n = 400
    with Writer(db) as writer:
        t = time.perf_counter()
        futs = [writer.submit(lambda s, i=i: log.add_interaction(s, _conv(f"t{i}"))) for i in range(n)]
        for f in futs:
            f.result(30)
        rate = n / (time.perf_counter() - t)
    assert rate > 500, rate
