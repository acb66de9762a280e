"""The sleep-cycle entry point, and the machinery that runs it: one at a time, in a niced child process.

    run_cycle(data_dir, trigger) -> dict      one cycle, in this process; the `sleepd sleep --now --json`
                                              shape: {"cycle_id", "status", "generation_id",
                                              "parent_generation_id", "kept", "gates", "report"}
    CycleRunner(paths).start(trigger)         the same in a child process `python -m daemon.cycle`, under
                                              the cycle lock; used by the nightly job, POST /v1/sleep and
                                              `sleepd sleep --now`

The pipeline boundary: `run_cycle` opens the data directory, creates the cycle row (or resumes an
unfinished one left by a crash) and calls `pipeline(ctx: CycleContext)`. The pipeline owns the cycle's
state machine (memory.cycles): it must leave the cycle in a terminal state, with `result` holding
{"kept": int, "gates": {NAME: {"value", "threshold", "passed"}}, ...}, `candidate_generation_id` and
`report_path` set as they apply. An exception fails the cycle (the message is kept in `error`).
`ctx.should_stop()` turns true when the daemon shuts down; a pipeline checks it between steps and
checkpoints. SIGTERM also raises `CycleInterrupted` (a BaseException, so `except Exception` does not swallow
it) at the next Python instruction.

`DEFAULT_PIPELINE` is the reflect → tune → gate → promote pipeline in daemon.night (which knows the
cycle only through daemon/cycle_context.py, so the two modules do not import each other).
`SLEEPD_CYCLE_PIPELINE=module:function` (or `file.py:function`) overrides the default for experiments and
tests.

Result fields: `generation_id` is the candidate the cycle produced (promoted or rejected), None when it
made none; `parent_generation_id` the generation it started from; `report` the report's path.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from daemon.cycle_context import CycleContext, CycleInterrupted, Pipeline
from daemon.init import DataDir, open_data_dir
from daemon.locks import FileLock, LockBusy, cycle_lock_path
from daemon.paths import DataPaths
from memory import cycles
from memory.generations import current_generation_id

log = logging.getLogger(__name__)

RESULT_KEYS = ("cycle_id", "status", "generation_id", "parent_generation_id", "kept", "gates", "report")


def night(ctx: CycleContext) -> None:
    """The real pipeline (daemon.night): reflect, tune, gate, promote or reject. Imported when a cycle runs:
    it brings the model and the tuner, which processes that only start cycles never need."""
    from daemon.night import night_pipeline

    night_pipeline(ctx)


DEFAULT_PIPELINE: Pipeline = night
PIPELINE_ENV = "SLEEPD_CYCLE_PIPELINE"


def pipeline_from_env() -> Pipeline | None:
    """`SLEEPD_CYCLE_PIPELINE=package.module:function` or `/path/to/file.py:function` replaces the default
    pipeline (experiments, tests); unset: None."""
    spec = os.environ.get(PIPELINE_ENV, "").strip()
    if not spec:
        return None
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise ValueError(f"{PIPELINE_ENV}={spec!r}: expected module:function or file.py:function")
    if target.endswith(".py"):
        loader = importlib.util.spec_from_file_location("sleepd_cycle_pipeline", target)
        if loader is None or loader.loader is None:
            raise ValueError(f"{PIPELINE_ENV}: cannot load {target}")
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    return getattr(module, name)


def begin_cycle(dd: DataDir, trigger: str) -> tuple[int, bool, str]:
    """Create a pending cycle, or return the unfinished one a crash left behind: (cycle id, resumed, the
    cycle's trigger).

    Only the holder of the cycle lock calls this, so an unfinished cycle is never one that still runs."""
    with dd.db.write() as s:
        stale = cycles.active_cycle(s)
        if stale is not None:
            log.warning("resuming cycle %d, left %s by an earlier run", stale.id, stale.status)
            return stale.id, True, stale.trigger
        cycle = cycles.create_cycle(s, trigger, parent_generation_id=current_generation_id(s))
        return cycle.id, False, trigger


def cycle_result(dd: DataDir, cycle_id: int) -> dict[str, Any]:
    """The `sleepd sleep --now --json` shape for a cycle."""
    with dd.db.read() as s:
        c = cycles.get_cycle(s, cycle_id)
        result = c.result or {}
        return {
            "cycle_id": c.id,
            "status": c.status,
            "generation_id": c.candidate_generation_id,
            "parent_generation_id": c.parent_generation_id,
            "kept": int(result.get("kept", 0) or 0),
            "gates": dict(result.get("gates") or {}),
            "report": c.report_path,
        }


def _fail_unless_finished(dd: DataDir, cycle_id: int, error: str) -> None:
    with dd.db.write() as s:
        c = cycles.get_cycle(s, cycle_id)
        if c.status not in cycles.TERMINAL:
            cycles.transition(s, cycle_id, "failed", error=error)


def run_cycle(
    data_dir: str | os.PathLike | None,
    trigger: str,
    *,
    pipeline: Pipeline | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Run one sleep cycle in this process and return its result (see the module docstring).

    The caller holds the cycle lock (CycleRunner and `sleepd sleep --now` do)."""
    pipeline = pipeline or pipeline_from_env() or DEFAULT_PIPELINE
    with open_data_dir(data_dir) as dd:
        cycle_id, resumed, cycle_trigger = begin_cycle(dd, trigger)
        ctx = CycleContext(
            data=dd,
            cycle_id=cycle_id,
            trigger=cycle_trigger,
            resumed=resumed,
            should_stop=should_stop or (lambda: False),
            actor=f"cycle {cycle_id}",
        )
        log.info("cycle %d started (trigger %s%s)", cycle_id, cycle_trigger, ", resumed" if resumed else "")
        try:
            pipeline(ctx)
        except CycleInterrupted:
            _fail_unless_finished(dd, cycle_id, "interrupted: the daemon was shutting down")
            raise
        except Exception as e:
            log.exception("cycle %d failed", cycle_id)
            _fail_unless_finished(dd, cycle_id, f"{type(e).__name__}: {e}")
        else:
            _fail_unless_finished(dd, cycle_id, "the pipeline returned without finishing the cycle")
        result = cycle_result(dd, cycle_id)
        log.info("cycle %d finished: %s", cycle_id, result["status"])
        return result


# ---- the child process ----------------------------------------------------------------------------------


def _child_main(argv: list[str] | None = None) -> int:
    """`python -m daemon.cycle --data-dir D --trigger T [--nice N]`: one cycle at niceness >= N; its result
    as one JSON line on stdout. Exit 0 with a result, 3 when interrupted by SIGTERM, 1 on an unexpected
    error."""
    ap = argparse.ArgumentParser(prog="python -m daemon.cycle")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--trigger", required=True)
    ap.add_argument("--nice", type=int, default=0, help="run at this niceness (at least)")
    args = ap.parse_args(argv)
    # On a terminal (`sleepd sleep --now`), the night shows its phases and a progress bar instead of log
    # lines; under the daemon (a journal, not a terminal) it logs as before.
    logging.basicConfig(
        level=logging.WARNING if sys.stderr.isatty() else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s sleepd-cycle[%(process)d] %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    current = os.nice(0)
    if args.nice > current:
        os.nice(args.nice - current)  # low priority: the API in the parent keeps answering while we tune
    log.info("cycle process %d (niceness %d, trigger %s)", os.getpid(), os.nice(0), args.trigger)
    stop = threading.Event()

    def on_term(signum: int, _frame: Any) -> None:
        stop.set()
        raise CycleInterrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        result = run_cycle(args.data_dir, args.trigger, should_stop=stop.is_set)
    except CycleInterrupted:
        return 3
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


# ---- running cycles one at a time ------------------------------------------------------------------------


class CycleBusy(Exception):
    """A cycle is already running (`pid`: the process running it, when known)."""

    def __init__(self, pid: int | None, info: dict[str, Any] | None = None) -> None:
        self.pid = pid
        self.info = info or {}
        who = f" (pid {pid})" if pid is not None else ""
        super().__init__(f"a sleep cycle is already running{who}")


@dataclass
class CycleHandle:
    trigger: str
    started_at: str
    pid: int | None = None  # the child's
    result: dict[str, Any] | None = None
    error: str | None = None
    returncode: int | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def to_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "started_at": self.started_at,
            "pid": self.pid,
            "running": not self.done.is_set(),
            "result": self.result,
            "error": self.error,
        }


class CycleRunner:
    """Starts cycles under the cycle lock, one at a time, each in a niced child process (or, with
    `in_process=True`, in a thread of this process: for tests and tools that inject a pipeline)."""

    def __init__(
        self,
        paths: DataPaths,
        *,
        nice: int = 10,
        stop_timeout: float = 30.0,
        in_process: bool = False,
        pipeline: Pipeline | None = None,
        python: str = sys.executable,
    ) -> None:
        self.paths = paths
        self.nice = nice
        self.stop_timeout = stop_timeout
        self.in_process = in_process
        self.pipeline = pipeline
        self.python = python
        self._mutex = threading.Lock()
        self._current: CycleHandle | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False
        self.last: CycleHandle | None = None

    @property
    def current(self) -> CycleHandle | None:
        h = self._current
        return h if h is not None and not h.done.is_set() else None

    def start(self, trigger: str) -> CycleHandle:
        """Start a cycle now; raises CycleBusy when one runs (here or in any other process)."""
        with self._mutex:
            if self._closed:
                raise CycleBusy(None, {"reason": "shutting down"})
            lock = FileLock(cycle_lock_path(self.paths))
            started = datetime.now(UTC).isoformat()
            try:
                lock.acquire({"trigger": trigger, "started_at": started})
            except LockBusy as e:
                child = e.info.get("child_pid")
                raise CycleBusy(child if isinstance(child, int) else e.pid, e.info) from None
            handle = CycleHandle(trigger=trigger, started_at=started)
            try:
                if self.in_process:
                    target: Callable[[], None] = lambda: self._run_in_thread(handle, lock)  # noqa: E731
                else:
                    proc = self._spawn(trigger, lock)
                    self._proc = proc
                    handle.pid = proc.pid
                    lock.write_info({"trigger": trigger, "started_at": started, "child_pid": proc.pid})
                    target = lambda: self._wait_child(handle, proc, lock)  # noqa: E731
                self._stop.clear()
                self._current = handle
                self._thread = threading.Thread(target=target, name="sleepd-cycle", daemon=True)
                self._thread.start()
            except BaseException:
                lock.release()
                raise
            log.info(
                "sleep cycle started (trigger %s%s)", trigger, f", pid {handle.pid}" if handle.pid else ""
            )
            return handle

    def run(self, trigger: str, timeout: float | None = None) -> dict[str, Any]:
        """Start a cycle and wait for its result; raises CycleBusy, or RuntimeError if it crashed."""
        handle = self.start(trigger)
        if not handle.wait(timeout):
            raise TimeoutError(f"the cycle did not finish within {timeout} s")
        if handle.result is None:
            raise RuntimeError(handle.error or "the cycle failed")
        return handle.result

    def _spawn(self, trigger: str, lock: FileLock) -> subprocess.Popen[bytes]:
        assert lock.fd is not None
        niceness = min(19, os.getpriority(os.PRIO_PROCESS, 0) + self.nice)
        cmd = [
            self.python,
            "-m",
            "daemon.cycle",
            "--data-dir",
            str(self.paths.root),
            "--trigger",
            trigger,
            "--nice",
            str(niceness),
        ]
        # pass_fds: the child shares the lock's open file description, so the lock stays held for as long
        # as the child lives, even if this process is killed first.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, pass_fds=(lock.fd,))
        # Lower its priority at once (the child checks again once it runs): no preexec_fn, which is not safe
        # in a process with threads.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, proc.pid, niceness)
        return proc

    def _wait_child(self, handle: CycleHandle, proc: subprocess.Popen[bytes], lock: FileLock) -> None:
        try:
            out, _ = proc.communicate()
            handle.returncode = proc.returncode
            lines = [ln for ln in out.decode("utf-8", "replace").splitlines() if ln.strip()]
            if proc.returncode == 0 and lines:
                try:
                    handle.result = json.loads(lines[-1])
                except ValueError:
                    handle.error = f"the cycle process printed no result ({lines[-1][:80]!r})"
            elif proc.returncode == 3:
                handle.error = "the cycle was interrupted (shutdown)"
            else:
                handle.error = f"the cycle process exited with status {proc.returncode}"
        finally:
            self._finish(handle, lock)

    def _run_in_thread(self, handle: CycleHandle, lock: FileLock) -> None:
        try:
            handle.result = run_cycle(
                self.paths.root, handle.trigger, pipeline=self.pipeline, should_stop=self._stop.is_set
            )
        except BaseException as e:
            handle.error = f"{type(e).__name__}: {e}"
            log.exception("in-process cycle failed")
        finally:
            self._finish(handle, lock)

    def _finish(self, handle: CycleHandle, lock: FileLock) -> None:
        lock.release()
        self._proc = None
        self.last = handle
        if handle.error:
            log.error("sleep cycle (trigger %s) did not finish: %s", handle.trigger, handle.error)
        elif handle.result is not None:
            log.info("sleep cycle %s: %s", handle.result.get("cycle_id"), handle.result.get("status"))
        handle.done.set()

    def stop(self, timeout: float | None = None) -> None:
        """Refuse new cycles; ask a running one to stop (SIGTERM to the child), wait `stop_timeout`, then
        SIGKILL it. The cycle is recorded as failed (interrupted) and resumes or restarts next time."""
        with self._mutex:
            self._closed = True
        self._stop.set()
        timeout = self.stop_timeout if timeout is None else timeout
        proc = self._proc
        if proc is not None and proc.poll() is None:
            log.info("stopping the sleep cycle (pid %d)", proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("the cycle (pid %d) did not stop within %.0f s; killing it", proc.pid, timeout)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        thread = self._thread
        if thread is not None:
            thread.join(timeout if self.in_process else 10.0)


def wait_for_lock_free(paths: DataPaths, timeout: float) -> bool:
    """True once no process holds the cycle lock (tests and tools)."""
    from daemon.locks import is_locked

    deadline = time.monotonic() + timeout
    while is_locked(cycle_lock_path(paths)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


if __name__ == "__main__":
    # Import ourselves by name, so the child raises and catches `daemon.cycle.CycleInterrupted` (what a
    # pipeline imports), not a copy defined in `__main__`.
    from daemon.cycle import _child_main as main

    sys.exit(main())
