"""`sleepd serve`: the daemon's life from start to a clean stop.

Start, in this order:
1. Single instance: a non-blocking flock on the runtime dir's `serve-<hash>.lock` (daemon/locks.py).
   A second `serve` on the same data directory exits 2, naming the holder's pid.
2. Open the data directory. This migrates the DB to the newest schema and repairs `generations/current`
   from the DB pointer.
3. Load the base model (sha256 checked against config.toml) and the current generation's state. A
   corrupt current generation falls back to its newest valid ancestor, loudly.
4. Start the writer thread, the inference worker and the cycle runner, then bind the socket
   (`--port 0` picks a free port).
5. Once listening, write the address file (`serve-<hash>.json`) and send READY=1 to systemd. Then start
   the generation watcher (hot swap) and the nightly scheduler, which checks at once for a missed night.

Stop: SIGTERM, SIGINT and SIGHUP all take one path. STOPPING=1 goes out at once. Uvicorn stops accepting
and lets in-flight requests finish (`[server] shutdown_timeout_seconds`); a chat already generating
completes and is logged. Then, in order:
- the scheduler stops;
- a running cycle child gets SIGTERM, records itself as interrupted and exits (SIGKILL after
  `[scheduler] cycle_stop_timeout_seconds`);
- the watcher and the inference worker stop;
- the writer drains every submitted write and commits it;
- the lock is released.
A second SIGINT skips the wait for in-flight requests.

Watchdog: with WatchdogSec set, WATCHDOG=1 is sent every WatchdogSec/2 from the event loop itself, so a
hung loop stops the pings and systemd restarts the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.locks import (
    DaemonInfo,
    FileLock,
    LockBusy,
    daemon_info_path,
    instance_lock_path,
    running_daemon,
    write_daemon_info,
)
from daemon.notify import Notifier
from daemon.paths import DataPaths, resolve_data_dir
from memory.errors import InputError

log = logging.getLogger("sleepd")

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class AlreadyRunning(InputError):
    """Another `sleepd serve` holds this data directory (exit 2)."""

    def __init__(self, root: Path, pid: int | None) -> None:
        self.pid = pid
        who = f"pid {pid}" if pid is not None else "another process"
        super().__init__(f"sleepd serve is already running for {root} ({who})")


class ServeFailure(RuntimeError):
    """The daemon could not start or run (exit 1), e.g. the port is taken."""


def setup_logging(level: int = logging.INFO) -> None:
    # Under systemd (INVOCATION_ID set) the journal adds timestamps and the pid itself.
    fmt = (
        "%(levelname)s %(name)s: %(message)s"
        if os.environ.get("INVOCATION_ID")
        else "%(asctime)s sleepd[%(process)d] %(levelname)s %(name)s: %(message)s"
    )
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration plugin otherwise


def serve(
    data_dir: str | os.PathLike | None = None, host: str | None = None, port: int | None = None
) -> None:
    """Run the daemon until a signal stops it. Raises AlreadyRunning / InputError (exit 2) or
    ServeFailure / IntegrityFailure (exit 1)."""
    paths = DataPaths(resolve_data_dir(data_dir))
    if not paths.is_initialised():
        raise InputError(f"{paths.root}: not a sleepd data directory (run `sleepd init`)")
    lock = FileLock(instance_lock_path(paths))
    try:
        lock.acquire({"data_dir": str(paths.root)}, wait=0.5)
    except LockBusy as e:
        raise AlreadyRunning(paths.root, e.pid) from None
    try:
        Daemon(paths, host=host, port=port).run()
    finally:
        with contextlib.suppress(OSError):
            daemon_info_path(paths).unlink()
        lock.release()


class Daemon:
    def __init__(
        self, paths: DataPaths, *, host: str | None, port: int | None, notifier: Notifier | None = None
    ):
        self.paths = paths
        self.host_arg = host
        self.port_arg = port
        self.notifier = notifier or Notifier()
        self.stopping = False
        self.server: Any = None
        self.dd: Any = None
        self.writer: Any = None
        self.worker: Any = None
        self.runner: Any = None
        self.scheduler: Any = None
        self.watcher: Any = None

    # ---- start --------------------------------------------------------------------------------------
    def run(self) -> None:
        import uvicorn

        from daemon.api import ApiContext, create_app
        from daemon.cycle import CycleRunner
        from daemon.inference import InferenceWorker, ModelServer
        from daemon.init import open_data_dir, read_token
        from memory.writer import Writer

        self._install_signal_handlers()
        try:
            self.dd = dd = open_data_dir(self.paths.root)  # migrates to the newest schema
            cfg = dd.config
            host = self.host_arg or cfg.server.host
            port = cfg.server.port if self.port_arg is None else self.port_arg
            dd.generations.reconcile(actor="daemon")
            token = read_token(self.paths)
            self.notifier.status("loading the model")
            model = ModelServer.load(cfg.model, dd.generations)
            served = model.served
            if served.is_fallback:
                log.error(
                    "serving generation %d instead of the current generation %d (see the log above)",
                    served.generation_id,
                    served.current_id,
                )
            self.writer = Writer(dd.db).start()
            self.worker = InferenceWorker(
                model, max_queued=cfg.server.max_queued_requests, threads=cfg.server.inference_threads
            ).start()
            self.runner = CycleRunner(
                self.paths,
                nice=cfg.scheduler.cycle_nice,
                stop_timeout=cfg.scheduler.cycle_stop_timeout_seconds,
            )
            ctx = ApiContext(
                token=token,
                config=cfg.server,
                db=dd.db,
                writer=self.writer,
                model=model,
                worker=self.worker,
                cycles=self.runner,
                next_run=self._next_run,
                data_dir=self.paths.root,
            )
            app = create_app(ctx)
            sock = bind_socket(host, port)
            if host not in LOOPBACK:
                log.warning(
                    "listening on %s: anyone who can reach it and has the token can use your memory", host
                )
            config = uvicorn.Config(
                app,
                log_config=None,
                access_log=False,
                lifespan="off",
                http="h11",
                loop="asyncio",
                timeout_graceful_shutdown=cfg.server.shutdown_timeout_seconds,
                timeout_keep_alive=30,
            )
            self.server = make_server(config, self, sock, model)
            if self.stopping:
                return
            self.server.run(sockets=[sock])
        finally:
            self.shutdown()

    def _next_run(self) -> datetime | None:
        return self.scheduler.next_run_time() if self.scheduler is not None else None

    def on_listening(self, sock: socket.socket, model: Any) -> None:
        """Called by the server once it accepts connections."""
        from daemon.scheduler import NightlyScheduler
        from memory.watcher import CurrentGenerationWatcher

        host, port = sock.getsockname()[:2]
        url_host = f"[{host}]" if ":" in host else host
        info = DaemonInfo(
            pid=os.getpid(),
            host=host,
            port=port,
            url=f"http://{url_host}:{port}",
            data_dir=str(self.paths.root),
            started_at=datetime.now(UTC).isoformat(),
        )
        write_daemon_info(self.paths, info)
        cfg = self.dd.config
        self.watcher = CurrentGenerationWatcher(
            self.dd.db,
            model.on_pointer_change,
            interval=cfg.server.switch_poll_seconds,
            initial=model.served.current_id,
        ).start()
        gen = model.served.generation_id
        log.info("listening on %s (generation %d, data %s)", info.url, gen, self.paths.root)
        self.notifier.ready(f"serving generation {gen} on {info.url}")
        if cfg.scheduler.enabled:
            try:
                self.scheduler = NightlyScheduler(self.paths, cfg.scheduler, self.runner).start()
            except Exception:
                # The API must stay up; a broken timer is reported, and `sleepd sleep --now` still works.
                log.exception("THE NIGHTLY SCHEDULER DID NOT START; cycles will not run on their own")

    # ---- stop ---------------------------------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        # Ours: SIGHUP always, SIGTERM/SIGINT outside uvicorn's own handlers (while loading, and when
        # uvicorn re-raises the signal it caught after serving).
        if self.server is not None:
            self.server.handle_exit(signum, frame)
        else:
            self.announce_stop(signum)

    def announce_stop(self, signum: int | None = None) -> None:
        """First signal: log it and tell systemd we are stopping."""
        if self.stopping:
            return
        self.stopping = True
        name = signal.Signals(signum).name if signum else "request"
        log.info("%s: shutting down", name)
        self.notifier.stopping("shutting down")

    def shutdown(self) -> None:
        """Stop everything that was started, in dependency order; safe after a partial start."""
        if not self.stopping:
            self.stopping = True
            self.notifier.stopping("shutting down")
        steps = [
            ("scheduler", lambda: self.scheduler and self.scheduler.shutdown(wait=True)),
            ("cycle", lambda: self.runner and self.runner.stop()),
            ("watcher", lambda: self.watcher and self.watcher.stop()),
            ("inference worker", lambda: self.worker and self.worker.close()),
            ("writer", lambda: self.writer and self.writer.close()),
            ("database", lambda: self.dd and self.dd.close()),
        ]
        for name, step in steps:
            try:
                step()
            except Exception:
                log.exception("stopping the %s failed", name)
        log.info("stopped")


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for host:port (port 0: any free port)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise InputError(f"--host {host}: {e.strerror}") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        raise ServeFailure(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.set_inheritable(False)
    return sock


def _make_server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, plus our hooks: ready after startup, STOPPING on the first signal, and the
        watchdog task on the event loop."""

        def __init__(self, config: Any, daemon: Daemon, sock: socket.socket, model: Any) -> None:
            super().__init__(config)
            self.daemon = daemon
            self.sock = sock
            self.model = model
            self._watchdog: asyncio.Task[None] | None = None

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.should_exit:
                return
            self.daemon.on_listening(self.sock, self.model)
            interval = self.daemon.notifier.watchdog_interval
            if interval:
                self._watchdog = asyncio.get_running_loop().create_task(self._ping(interval))

        async def _ping(self, interval: float) -> None:
            while True:
                self.daemon.notifier.watchdog()
                await asyncio.sleep(interval)

        def handle_exit(self, sig: int, frame: Any) -> None:
            self.daemon.announce_stop(sig)
            super().handle_exit(sig, frame)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if self._watchdog is not None:
                self._watchdog.cancel()
            await super().shutdown(sockets)

    return Server


def make_server(config: Any, daemon: Daemon, sock: socket.socket, model: Any) -> Any:
    return _make_server_class()(config, daemon, sock, model)


# ---- a `sleepd serve` child process (tests, benchmarks, tools) ---------------------------------------------


class ServerProcess:
    """Runs `sleepd serve` as a child process and waits until it answers /health.

        with ServerProcess(data_dir).start() as srv:
            httpx.get(srv.url + "/v1/models", headers=srv.headers)

    Its stderr goes to `log_path` (default: a temp file), readable with `log_text()`."""

    def __init__(
        self,
        data_dir: str | os.PathLike,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        env: dict[str, str] | None = None,
        log_path: str | os.PathLike | None = None,
    ) -> None:
        self.paths = DataPaths(resolve_data_dir(data_dir))
        self.host = host
        self.port_arg = port
        self.env = {**os.environ, **(env or {})}
        self.env.setdefault("HF_HUB_OFFLINE", "1")
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="sleepd-serve-", suffix=".log")
            os.close(fd)
            log_path = name
        self.log_path = Path(log_path)
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: DaemonInfo | None = None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "daemon.cli",
            "--data-dir",
            str(self.paths.root),
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port_arg),
        ]

    def start(self, timeout: float = 90.0) -> ServerProcess:
        with open(self.log_path, "ab") as err:
            self.proc = subprocess.Popen(
                self.command(), env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"sleepd serve exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}"
                )
            info = running_daemon(self.paths)
            if info is not None and info.pid == self.proc.pid and self._healthy(info):
                self.info = info
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(
                    f"sleepd serve did not become ready in {timeout} s:\n{self.log_text()[-3000:]}"
                )
            time.sleep(0.05)

    def _healthy(self, info: DaemonInfo) -> bool:
        conn = http.client.HTTPConnection(info.host, info.port, timeout=2.0)
        try:
            conn.request("GET", "/health")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def url(self) -> str:
        assert self.info is not None, "not started"
        return self.info.url

    @property
    def port(self) -> int:
        assert self.info is not None, "not started"
        return self.info.port

    @property
    def token(self) -> str:
        from daemon.init import read_token

        return read_token(self.paths)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def log_text(self) -> str:
        try:
            return self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send `sig` and wait for the exit; returns the exit status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.stop(timeout=30.0)
