"""Noticing a generation switch made by another process (`sleepd gen promote|rollback` while the daemon runs):
a polling thread, one indexed SELECT per tick."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from memory.db import Database
from memory.generations import current_generation_id

log = logging.getLogger(__name__)


class CurrentGenerationWatcher:
    """Polls `current_generation_id` and calls `callback(old_id, new_id)` when it changes.

    The daemon uses it to hot-swap the served state after `sleepd gen promote|rollback` in another process;
    one indexed SELECT per poll. The callback runs on the watcher's thread; an exception in it is logged and
    the new id is still taken as seen (no hot loop), so the callback should handle its own retries."""

    def __init__(
        self,
        db: Database,
        callback: Callable[[int | None, int | None], None],
        *,
        interval: float = 1.0,
        initial: int | None = None,
        read_initial: bool = True,
    ) -> None:
        self.db = db
        self.callback = callback
        self.interval = interval
        self.last = initial
        if read_initial and initial is None:
            self.last = self._read()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> int | None:
        with self.db.read() as s:
            return current_generation_id(s)

    def poll_once(self) -> bool:
        """Check now; returns whether the callback ran."""
        new = self._read()
        if new == self.last:
            return False
        old, self.last = self.last, new
        try:
            self.callback(old, new)
        except Exception:
            log.exception("generation watcher callback failed for %s -> %s", old, new)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll_once()
            except Exception:  # a locked or briefly unavailable DB: try again next tick
                log.exception("generation watcher poll failed")

    def start(self) -> CurrentGenerationWatcher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sleepd-gen-watcher", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
