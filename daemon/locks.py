"""Inter-process locks of sleepd, and how other processes find the running daemon.

Two non-blocking `flock` locks per data directory, both in the runtime directory (`DataPaths.runtime`:
$XDG_RUNTIME_DIR/sleepd, else <data dir>/run), named by a hash of the data directory's path:

    serve-<hash>.lock    held by `sleepd serve` for its whole life: one daemon per data directory
    serve-<hash>.json    the daemon's address (pid, host, port, url), replaced atomically once it listens
    cycle-<hash>.lock    held while a sleep cycle runs: POST /v1/sleep, `sleepd sleep --now` and the
                         nightly job all take it, so at most one cycle runs at a time

Why flock: the kernel drops the lock when the holder dies, however it dies (SIGKILL included), so a stale
lock file can never block a restart. flock locks belong to the open file description, so the cycle lock is
passed to the cycle's child process (the inherited descriptor keeps it held even if the daemon is killed
while the child still works). The holder writes its pid into the lock file (in place: replacing the file
would swap the inode under the lock), which is how a refused process can name the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.paths import DataPaths
from model.fileio import atomic_write_text


class LockBusy(Exception):
    """The lock is held by another process (`pid` when it could be read)."""

    def __init__(self, path: Path, pid: int | None, info: dict[str, Any] | None = None) -> None:
        self.path = path
        self.pid = pid
        self.info = info or {}
        who = f"pid {pid}" if pid is not None else "another process"
        super().__init__(f"{path} is held by {who}")


class FileLock:
    """A non-blocking exclusive flock on `path`, with the holder's details written into the file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.fd: int | None = None

    @property
    def held(self) -> bool:
        return self.fd is not None

    def acquire(self, info: dict[str, Any] | None = None, *, wait: float = 0.0) -> FileLock:
        """Take the lock or raise `LockBusy`. `wait` retries for that many seconds first (it rides out a
        status probe that holds the lock for a few microseconds)."""
        if self.fd is not None:
            raise RuntimeError(f"{self.path}: already held by this object")
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                os.close(fd)
                holder = read_lock_info(self.path)
                pid = holder.get("pid")
                raise LockBusy(self.path, pid if isinstance(pid, int) else None, holder) from None
        self.fd = fd
        self.write_info(info or {})
        return self

    def write_info(self, info: dict[str, Any]) -> None:
        """Replace the holder details in the lock file (pid is always included)."""
        if self.fd is None:
            raise RuntimeError(f"{self.path}: not held")
        data = json.dumps({"pid": os.getpid(), **info}, sort_keys=True).encode() + b"\n"
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)

    def release(self) -> None:
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # a reader must not name a pid that no longer holds it
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> FileLock:
        return self if self.held else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_lock_info(path: str | os.PathLike) -> dict[str, Any]:
    """What the holder wrote into a lock file ({} when empty, unreadable or half-written)."""
    try:
        data = json.loads(Path(path).read_text("utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_locked(path: str | os.PathLike) -> bool:
    """Whether some process holds the lock on `path` (probes by taking and dropping it)."""
    p = Path(path)
    if not p.exists():
        return False
    try:
        fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's lock, if it got one
    return False


# ---- the files of one data directory ---------------------------------------------------------------------


def instance_lock_path(paths: DataPaths) -> Path:
    return paths.lock_file


def daemon_info_path(paths: DataPaths) -> Path:
    return paths.lock_file.with_suffix(".json")


def cycle_lock_path(paths: DataPaths) -> Path:
    name = paths.lock_file.name
    return paths.lock_file.with_name("cycle-" + name.removeprefix("serve-"))


@dataclass(frozen=True)
class DaemonInfo:
    pid: int
    host: str
    port: int
    url: str
    data_dir: str
    started_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "host": self.host,
            "port": self.port,
            "url": self.url,
            "data_dir": self.data_dir,
            "started_at": self.started_at,
        }


def write_daemon_info(paths: DataPaths, info: DaemonInfo) -> None:
    atomic_write_text(daemon_info_path(paths), json.dumps(info.to_dict(), indent=2) + "\n", perm=0o600)


def running_daemon(paths: DataPaths) -> DaemonInfo | None:
    """The daemon serving this data directory, or None. Trusts the address file only while the instance
    lock is held by the pid the file names (a daemon killed by SIGKILL leaves a stale file behind)."""
    lock = instance_lock_path(paths)
    if not is_locked(lock):
        return None
    holder = read_lock_info(lock)
    try:
        data = json.loads(daemon_info_path(paths).read_text("utf-8"))
        info = DaemonInfo(**{k: data[k] for k in DaemonInfo.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None  # still starting (not listening yet)
    if holder.get("pid") != info.pid:
        return None
    return info
