"""Atomic file writes, used for every file sleepd writes.

Pattern (borg's SaveFile): write a temp file in the same directory, flush and fsync it, `os.replace` it
onto the target, then fsync the directory so the rename itself survives a crash. On any error the temp
file is removed and the target is untouched.

The temp file's name is unique to the process, the thread and the write (`.{name}.tmp-{pid}-{random}`), so
two threads writing one path never collide, and a temp file a killed process left behind never blocks a
later writer that happens to get the same pid (containers and systemd restarts reuse pids). Such leftovers
are incomplete writes of sleepd's own: a writer removes those of its target whose process is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

STALE_SECONDS = 600  # a temp file of this process older than this is an earlier process's leftover


def fsync_dir(path: str | os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_path(path: Path) -> Path:
    _clear_stale(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(6)}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _clear_stale(path: Path) -> None:
    """Remove temp files of `path` left by processes that no longer exist (a crash mid-write)."""
    prefix = f".{path.name}.tmp-"
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if not entry.name.startswith(prefix):
                continue
            pid = entry.name[len(prefix) :].split("-", 1)[0]
            if not pid.isdigit():
                continue
            # Our own pid: another thread's write in progress, unless it is old (an earlier process with
            # the same pid, killed mid-write).
            mine = int(pid) == os.getpid()
            if (mine and time.time() - entry.stat().st_mtime > STALE_SECONDS) or (
                not mine and not _pid_alive(int(pid))
            ):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike, mode: str = "w", *, perm: int | None = None, **kw: Any
) -> Iterator[IO]:
    """Open a temp file for writing; on clean exit it atomically becomes `path`."""
    if mode not in ("w", "wb"):
        raise ValueError("atomic_open supports modes 'w' and 'wb'")
    path = Path(path)
    tmp = _temp_path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = os.open(tmp, flags, perm if perm is not None else 0o644)
    with _renamed_onto(tmp, path), os.fdopen(fd, mode, **kw) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def _renamed_onto(tmp: Path, path: Path) -> Iterator[None]:
    """When the block (which writes and fsyncs `tmp`) succeeds, `tmp` replaces `path` and the folder is
    fsynced; when it fails, `tmp` is removed and `path` is untouched."""
    try:
        yield
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, perm: int | None = None) -> None:
    with atomic_open(path, "wb", perm=perm) as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str, *, perm: int | None = None) -> None:
    with atomic_open(path, "w", perm=perm, encoding="utf-8") as f:
        f.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any, *, perm: int | None = None) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", perm=perm)


def atomic_write_with(path: str | os.PathLike, writer: Callable[[str], None]) -> None:
    """For libraries that insist on writing to a path themselves (safetensors, torch.save):
    `writer(tmp_path)` writes the temp file, which is then fsynced and renamed onto `path`."""
    path = Path(path)
    tmp = _temp_path(path)
    with _renamed_onto(tmp, path):
        writer(str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
