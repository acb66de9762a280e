"""The daemon's single SQLite writer, with group commit.

One thread owns the only write connection of the daemon. Callers hand it functions `fn(session) -> T`
through a queue and get a `Future[T]`:

    writer = Writer(db); writer.start()
    ids = writer.call(lambda s: log.add_interaction(s, body, source="api"))   # returns after COMMIT
    writer.close()

Group commit: the thread takes every call that is queued (up to `max_batch`) and runs them in ONE
`BEGIN IMMEDIATE` transaction, each inside its own SAVEPOINT so that one failing call rolls back only its
own writes and gets its own exception. Futures are resolved only after the COMMIT returned, so a caller that
got a result knows its write is durable (synchronous=FULL). One fsync then covers a whole batch, which is
what lets many concurrent HTTP clients log interactions at a high rate.

Keep `fn` short and free of slow work (validate, tokenize, hash before submitting): it runs while every
other writer waits. Objects returned by `fn` stay usable after the commit (expire_on_commit=False).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from memory.db import Database

T = TypeVar("T")
log = logging.getLogger(__name__)

_STOP = object()


class WriterClosed(RuntimeError):
    """The writer was closed; nothing more can be submitted."""


class Writer:
    def __init__(self, db: Database, *, max_batch: int = 256, name: str = "sleepd-writer") -> None:
        self.db = db
        self.max_batch = max_batch
        self.name = name
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()
        # Counters for tests and benchmarks: how well group commit batches.
        self.commits = 0
        self.calls = 0

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> Writer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float | None = 30.0) -> None:
        """Finish every write already submitted, then stop the thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("writer thread did not stop within %s s", timeout)

    def __enter__(self) -> Writer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- submitting -----------------------------------------------------------------------------
    def submit(self, fn: Callable[[Session], T]) -> Future[T]:
        """Queue `fn` to run in the next write transaction; the future resolves after COMMIT."""
        fut: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise WriterClosed("the database writer is closed")
            if self._thread is None:
                self.start()
            self._queue.put((fn, fut))
        return fut

    def call(self, fn: Callable[[Session], T], timeout: float | None = None) -> T:
        """`submit(fn).result(timeout)`: run `fn` in a write transaction and wait for its commit."""
        return self.submit(fn).result(timeout)

    # ---- the thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        self._conn = self.db.engine.connect()
        try:
            stop = False
            while not stop:
                batch = [self._queue.get()]
                while len(batch) < self.max_batch:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if any(item is _STOP for item in batch):
                    stop = True
                    batch = [item for item in batch if item is not _STOP]
                    # Anything queued after the sentinel still runs: close() promises to drain.
                    while True:
                        try:
                            item = self._queue.get_nowait()
                        except queue.Empty:
                            break
                        if item is not _STOP:
                            batch.append(item)
                if batch:
                    self._run_batch(batch)
        finally:
            self._conn.close()

    def _run_batch(self, batch: list[tuple[Callable[[Session], Any], Future[Any]]]) -> None:
        results: list[tuple[Future[Any], bool, Any]] = []
        live = [(fn, fut) for fn, fut in batch if fut.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            with Session(bind=self._conn, expire_on_commit=False) as session:
                with session.begin():
                    for fn, fut in live:
                        savepoint = session.begin_nested()
                        try:
                            value = fn(session)
                            session.flush()
                            savepoint.commit()
                            results.append((fut, True, value))
                        except BaseException as e:  # reported to that caller only
                            if savepoint.is_active:
                                savepoint.rollback()
                            results.append((fut, False, e))
                # COMMIT returned: the successful calls are durable now.
                self.commits += 1
                self.calls += len(live)
        except BaseException as e:
            log.exception("write transaction failed; %d calls get the error", len(live))
            for _fn, fut in live:
                if not fut.done():
                    fut.set_exception(e)
            # The connection may be left in a bad state (e.g. a disk I/O error): start a clean one.
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = self.db.engine.connect()
            return
        for fut, ok, value in results:
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
