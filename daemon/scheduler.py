"""The nightly sleep cycle: APScheduler 3.x in the daemon, exactly one run per night.

Timer: a `BackgroundScheduler` with a persistent `SQLAlchemyJobStore` in <data dir>/scheduler.db (its own
SQLite file, so the main database keeps its single writer). The nightly job is a cron job at
`[scheduler] time` (local time), added at every start with an explicit id and `replace_existing=True`
(without them each restart would add a duplicate), `coalesce=True`, `max_instances=1` and a misfire grace
of `[scheduler] misfire_grace_hours`.

Exactly once per night: APScheduler alone does not give it.
- `replace_existing=True` recomputes the job's next run time from now, so a night that passed while the
  daemon was down is forgotten at the next start.
- The timer thread sleeps on a monotonic clock that stops during suspend, so after a resume the job can
  fire late or not until the next wake-up (agronholm/apscheduler#794).

So the scheduler keeps its own record, table `nightly_runs` in scheduler.db: one row per scheduled fire
time that started a cycle, inserted with INSERT OR IGNORE. The inserted row is the claim.
- Whatever notices that a night is due claims it first, and only the one whose insert went through
  starts the cycle. That is the cron timer, the check at start, or the check that repeats every
  `[scheduler] overdue_check_minutes`.
- "Due" means the newest fire time at or before now. It must be no older than the grace, not before
  the scheduler first started for this data directory (a fresh install does not run a cycle at once),
  and not claimed yet.
- A missed night therefore runs exactly once, however many of these notice it, and two nights missed
  in a row still run one cycle (the newest; coalescing).
- If another cycle holds the cycle lock at that moment, the claim is withdrawn and a later check runs
  the night once the lock is free.

The clock is injectable (`clock=`), and every decision above goes through it, which is how the tests
move time.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from daemon.config import SchedulerConfig
from daemon.cycle import CycleBusy, CycleHandle, CycleRunner
from daemon.paths import DataPaths

log = logging.getLogger(__name__)

JOB_ID = "sleepd-nightly-cycle"
OVERDUE_JOB_ID = "sleepd-overdue-check"
SCHEDULER_DB = "scheduler.db"
TRIGGER = "schedule"  # the cycles' `trigger`

# Live schedulers by data directory: the persisted job stores only a textual reference to
# `nightly_job` and the data directory, and finds its scheduler here when it fires.
_ACTIVE: dict[str, NightlyScheduler] = {}
_ACTIVE_LOCK = threading.Lock()


def nightly_job(data_dir: str) -> None:
    """What the persisted cron job calls (by reference, "daemon.scheduler:nightly_job")."""
    with _ACTIVE_LOCK:
        sched = _ACTIVE.get(data_dir)
    if sched is None:
        log.warning("nightly job fired for %s, but no scheduler is running for it", data_dir)
        return
    sched.run_due(source="timer")


def parse_time(hhmm: str) -> tuple[int, int]:
    h, m = hhmm.split(":")
    return int(h), int(m)


def local_timezone() -> tzinfo:
    from tzlocal import get_localzone

    return get_localzone()


def cron_trigger(cfg: SchedulerConfig, tz: tzinfo):  # -> apscheduler CronTrigger
    from apscheduler.triggers.cron import CronTrigger

    hour, minute = parse_time(cfg.time)
    return CronTrigger(hour=hour, minute=minute, timezone=tz)


def next_fire_time(cfg: SchedulerConfig, now: datetime, tz: tzinfo | None = None) -> datetime | None:
    """The next nightly run after `now` (None when the scheduler is disabled)."""
    if not cfg.enabled:
        return None
    tz = tz or now.tzinfo or local_timezone()
    return cron_trigger(cfg, tz).get_next_fire_time(None, now)


def latest_fire_time(cfg: SchedulerConfig, now: datetime, tz: tzinfo | None = None) -> datetime | None:
    """The newest nightly fire time at or before `now`."""
    tz = tz or now.tzinfo or local_timezone()
    trig = cron_trigger(cfg, tz)
    t = trig.get_next_fire_time(None, now - timedelta(days=2))
    latest = None
    while t is not None and t <= now:
        latest = t
        t = trig.get_next_fire_time(t, t + timedelta(seconds=1))
    return latest


class SchedulerState:
    """The claims table (see the module docstring), in the scheduler's own SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS nightly_runs (fire_time TEXT PRIMARY KEY, claimed_at TEXT NOT "
                "NULL, source TEXT NOT NULL)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS scheduler_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def first_started(self, now: datetime) -> datetime:
        """When the scheduler first started for this data directory (recorded on the first call)."""
        with self._connect() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO scheduler_meta (key, value) VALUES ('first_started', ?)",
                (now.isoformat(),),
            )
            row = conn.execute("SELECT value FROM scheduler_meta WHERE key = 'first_started'").fetchone()
        return datetime.fromisoformat(row[0])

    def claim(self, fire_time: datetime, now: datetime, source: str) -> bool:
        with self._connect() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO nightly_runs (fire_time, claimed_at, source) VALUES (?, ?, ?)",
                (_key(fire_time), now.isoformat(), source),
            )
            return cur.rowcount == 1

    def unclaim(self, fire_time: datetime) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM nightly_runs WHERE fire_time = ?", (_key(fire_time),))

    def is_claimed(self, fire_time: datetime) -> bool:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT 1 FROM nightly_runs WHERE fire_time = ?", (_key(fire_time),)
            ).fetchone()
        return row is not None

    def runs(self) -> list[dict[str, str]]:
        with self._connect() as conn:
            rows = conn.execute("SELECT fire_time, claimed_at, source FROM nightly_runs ORDER BY fire_time")
            return [{"fire_time": a, "claimed_at": b, "source": c} for a, b, c in rows]


def _key(t: datetime) -> str:
    # One key per instant, whatever zone the datetime carries.
    from datetime import UTC

    return t.astimezone(UTC).isoformat()


class NightlyScheduler:
    def __init__(
        self,
        paths: DataPaths,
        cfg: SchedulerConfig,
        runner: CycleRunner,
        *,
        clock: Callable[[], datetime] | None = None,
        timezone: tzinfo | None = None,
        db_path: str | Path | None = None,
    ) -> None:
        self.paths = paths
        self.cfg = cfg
        self.runner = runner
        self.tz = timezone or local_timezone()
        self.clock = clock or (lambda: datetime.now(self.tz))
        self.db_path = Path(db_path) if db_path else paths.root / SCHEDULER_DB
        self.state = SchedulerState(self.db_path)
        self.grace = timedelta(hours=cfg.misfire_grace_hours)
        self._scheduler: Any = None
        self._jobstore: Any = None
        self._mutex = threading.Lock()

    # ---- decisions (all through the clock) -----------------------------------------------------------
    def due_fire_time(self, now: datetime | None = None) -> datetime | None:
        """The night that should run now, or None (see the module docstring)."""
        now = now or self.clock()
        fire = latest_fire_time(self.cfg, now, self.tz)
        if fire is None or now - fire > self.grace:
            return None
        if fire < self.state.first_started(now):
            return None
        if self.state.is_claimed(fire):
            return None
        return fire

    def run_due(self, source: str) -> CycleHandle | None:
        """Start the due night's cycle, if any night is due and unclaimed; returns its handle."""
        with self._mutex:
            now = self.clock()
            fire = self.due_fire_time(now)
            if fire is None:
                return None
            if not self.state.claim(fire, now, source):
                return None  # claimed by someone else between the check and the insert
            try:
                handle = self.runner.start(TRIGGER)
            except CycleBusy as e:
                self.state.unclaim(fire)
                log.info("night of %s is due, but %s; will retry", fire.isoformat(), e)
                return None
            except BaseException:
                self.state.unclaim(fire)
                raise
            log.info("nightly cycle for %s started (%s)", fire.isoformat(), source)
            return handle

    def check_overdue(self) -> CycleHandle | None:
        return self.run_due(source="overdue-check")

    # ---- the APScheduler timer -----------------------------------------------------------------------
    def start(self, *, check_now: bool = True) -> NightlyScheduler:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        self.state.first_started(self.clock())
        self._jobstore = SQLAlchemyJobStore(url=f"sqlite:///{self.db_path}")
        sched = BackgroundScheduler(
            jobstores={
                "default": self._jobstore,
                "volatile": MemoryJobStore(),
            },
            executors={"default": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=self.tz,
        )
        sched.add_job(
            "daemon.scheduler:nightly_job",
            trigger=cron_trigger(self.cfg, self.tz),
            id=JOB_ID,
            name="nightly sleep cycle",
            kwargs={"data_dir": str(self.paths.root)},
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(self.grace.total_seconds())),
        )
        sched.add_job(
            self.check_overdue,
            "interval",
            minutes=self.cfg.overdue_check_minutes,
            id=OVERDUE_JOB_ID,
            name="missed-night check",
            jobstore="volatile",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        with _ACTIVE_LOCK:
            _ACTIVE[str(self.paths.root)] = self
        sched.start()
        self._scheduler = sched
        log.info("nightly cycle scheduled at %s; next run %s", self.cfg.time, self.next_run_time())
        if check_now:
            self.check_overdue()
        return self

    def next_run_time(self) -> datetime | None:
        """When the timer fires next (from the job store while running, else computed)."""
        if self._scheduler is not None:
            job = self._scheduler.get_job(JOB_ID)
            if job is not None:
                return job.next_run_time
        return next_fire_time(self.cfg, self.clock(), self.tz)

    def jobs(self) -> list[dict[str, Any]]:
        if self._scheduler is None:
            return []
        return [
            {
                "id": j.id,
                "name": j.name,
                "next_run_time": j.next_run_time.isoformat() if j.next_run_time else None,
            }
            for j in self._scheduler.get_jobs()
        ]

    def shutdown(self, wait: bool = True) -> None:
        with _ACTIVE_LOCK:
            if _ACTIVE.get(str(self.paths.root)) is self:
                del _ACTIVE[str(self.paths.root)]
        sched, self._scheduler = self._scheduler, None
        if sched is not None:
            sched.shutdown(wait=wait)
            self._jobstore.engine.dispose()
