"""Atomic file writes, used for every file sleepd writes.

Pattern (borg's SaveFile): write a temp file in the same directory, flush and fsync it, `os.replace` it
onto the target, then fsync the directory so the rename itself survives a crash. On any error the temp
file is removed and the target is untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


def fsync_dir(path: str | os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


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
    try:
        with os.fdopen(fd, mode, **kw) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
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
    try:
        writer(str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
