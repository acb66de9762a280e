"""The nightly scheduler with an injected clock: a missed night runs exactly once, the grace window, one
cycle however many triggers notice a night, and no duplicate jobs across restarts."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from support import tiny_base

from daemon.config import SchedulerConfig
from daemon.cycle import CycleRunner
from daemon.init import init_data_dir, open_data_dir
from daemon.locks import FileLock, cycle_lock_path
from daemon.paths import DataPaths
from daemon.scheduler import (
    JOB_ID,
    SCHEDULER_DB,
    NightlyScheduler,
    latest_fire_time,
    next_fire_time,
    nightly_job,
)
from memory import cycles

TZ = ZoneInfo("Europe/Berlin")


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def paths(tmp_path):
    d = tmp_path / "home"
    init_data_dir(d, inspect=lambda p: tiny_base())
    return DataPaths(d)


def scheduled_cycles(paths):
    with open_data_dir(paths.root) as dd, dd.db.read() as s:
        return [c for c in cycles.list_cycles(s, limit=None) if c.trigger == "schedule"]


def settle(runner):
    h = runner.current
    if h is not None:
        assert h.wait(30)


def make(paths, clock, cfg=None, runner=None):
    runner = runner or CycleRunner(paths, in_process=True)
    return NightlyScheduler(
        paths, cfg or SchedulerConfig(time="03:00"), runner, clock=clock, timezone=TZ
    ), runner


def test_a_missed_night_runs_exactly_once(paths):
    clock = Clock(datetime(2026, 3, 10, 2, 0, tzinfo=TZ))
    s1, r1 = make(paths, clock)
    s1.start()  # first start ever: last night (before it) is not "missed"
    settle(r1)
    s1.shutdown()
    assert scheduled_cycles(paths) == []

    clock.t = datetime(2026, 3, 12, 8, 0, tzinfo=TZ)  # the daemon was down for the nights of the 10th..12th
    s2, r2 = make(paths, clock)
    s2.start()  # the check at start runs the missed night
    settle(r2)
    assert len(scheduled_cycles(paths)) == 1
    # Every other way of noticing the same night does nothing: the periodic check, the cron timer firing
    # late (after a suspend), another restart.
    assert s2.check_overdue() is None
    nightly_job(str(paths.root))
    s2.shutdown()
    s3, r3 = make(paths, clock)
    s3.start()
    settle(r3)
    assert len(scheduled_cycles(paths)) == 1

    clock.t = datetime(2026, 3, 13, 3, 0, 1, tzinfo=TZ)  # the next night runs as usual
    assert s3.run_due("timer") is not None
    settle(r3)
    s3.shutdown()
    assert len(scheduled_cycles(paths)) == 2
    runs = s3.state.runs()
    assert [r["fire_time"] for r in runs] == [
        datetime(2026, 3, 12, 3, 0, tzinfo=TZ).astimezone(ZoneInfo("UTC")).isoformat(),
        datetime(2026, 3, 13, 3, 0, tzinfo=TZ).astimezone(ZoneInfo("UTC")).isoformat(),
    ]
    assert [r["source"] for r in runs] == ["overdue-check", "timer"]


def test_a_night_older_than_the_grace_is_left_for_the_next(paths):
    clock = Clock(datetime(2026, 3, 10, 2, 0, tzinfo=TZ))
    cfg = SchedulerConfig(time="03:00", misfire_grace_hours=20)
    sched, _runner = make(paths, clock, cfg)
    sched.state.first_started(clock.t)
    clock.t = datetime(2026, 3, 10, 23, 30, tzinfo=TZ)  # 20.5 h after 03:00
    assert sched.due_fire_time() is None and sched.check_overdue() is None
    clock.t = datetime(2026, 3, 10, 22, 59, tzinfo=TZ)  # 19.98 h: still due
    assert sched.due_fire_time() == datetime(2026, 3, 10, 3, 0, tzinfo=TZ)


def test_concurrent_triggers_start_one_cycle(paths):
    clock = Clock(datetime(2026, 3, 10, 2, 0, tzinfo=TZ))
    make(paths, clock)[0].state.first_started(clock.t)
    clock.t = datetime(2026, 3, 10, 3, 0, 0, 500, tzinfo=TZ)
    scheds = [make(paths, clock) for _ in range(6)]  # separate instances: only the claim is shared
    barrier = threading.Barrier(len(scheds))
    handles = []

    def go(s):
        barrier.wait()
        h = s[0].run_due("timer")
        if h is not None:
            handles.append(h)

    threads = [threading.Thread(target=go, args=(s,)) for s in scheds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(handles) == 1
    assert handles[0].wait(30)
    assert len(scheduled_cycles(paths)) == 1


def test_a_busy_cycle_lock_defers_the_night_without_losing_it(paths):
    clock = Clock(datetime(2026, 3, 10, 2, 0, tzinfo=TZ))
    sched, runner = make(paths, clock)
    sched.state.first_started(clock.t)
    clock.t = datetime(2026, 3, 10, 3, 5, tzinfo=TZ)
    lock = FileLock(cycle_lock_path(paths)).acquire({"trigger": "cli"})
    try:
        assert sched.run_due("timer") is None  # `sleepd sleep --now` is running
    finally:
        lock.release()
    assert sched.due_fire_time() == datetime(2026, 3, 10, 3, 0, tzinfo=TZ)  # still due, not claimed
    assert sched.check_overdue() is not None
    settle(runner)
    assert len(scheduled_cycles(paths)) == 1


def test_job_ids_do_not_duplicate_across_restarts(paths):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    clock = Clock(datetime(2026, 3, 10, 12, 0, tzinfo=TZ))
    for hhmm in ("03:00", "04:30", "02:15"):
        sched, _runner = make(paths, clock, SchedulerConfig(time=hhmm))
        sched.start(check_now=False)
        assert [j["id"] for j in sched.jobs()].count(JOB_ID) == 1
        sched.shutdown()
    store = SQLAlchemyJobStore(url=f"sqlite:///{paths.root / SCHEDULER_DB}")
    try:
        jobs = store.get_all_jobs()
        assert [j.id for j in jobs] == [JOB_ID]  # the periodic check lives in memory only
        assert (jobs[0].trigger.fields[5].name, str(jobs[0].trigger.fields[5])) == ("hour", "2")
        assert str(jobs[0].trigger.fields[6]) == "15"
        assert jobs[0].coalesce is True and jobs[0].misfire_grace_time >= 3600
    finally:
        store.engine.dispose()


def test_the_cron_timer_calls_the_nightly_job(paths):
    clock = Clock(datetime(2026, 3, 10, 2, 0, tzinfo=TZ))
    sched, runner = make(paths, clock)
    sched.start(check_now=False)
    try:
        clock.t = datetime(2026, 3, 10, 3, 0, 2, tzinfo=TZ)
        # Make APScheduler fire the persisted job now: it calls daemon.scheduler:nightly_job by reference.
        sched._scheduler.modify_job(JOB_ID, next_run_time=datetime.now(TZ))
        deadline = time.monotonic() + 20
        while not scheduled_cycles(paths):
            assert time.monotonic() < deadline, "the timer did not start a cycle"
            time.sleep(0.05)
        settle(runner)
        assert [r["source"] for r in sched.state.runs()] == ["timer"]
    finally:
        sched.shutdown()


def test_fire_times_follow_local_time_across_dst():
    cfg = SchedulerConfig(time="03:00")
    # Berlin switched to summer time on 2026-03-29 at 02:00 -> 03:00.
    now = datetime(2026, 3, 29, 12, 0, tzinfo=TZ)
    assert latest_fire_time(cfg, now, TZ) == datetime(2026, 3, 29, 3, 0, tzinfo=TZ)
    assert latest_fire_time(cfg, now, TZ).utcoffset() == timedelta(hours=2)
    assert next_fire_time(cfg, now, TZ) == datetime(2026, 3, 30, 3, 0, tzinfo=TZ)
    assert next_fire_time(SchedulerConfig(enabled=False), now, TZ) is None
