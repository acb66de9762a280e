"""Debian binary packages (.deb) and npm tarballs (.tgz): safe extraction to a directory.

A .deb is an `ar` archive: the global header "!<arch>\\n", then members with 60-byte headers (name 16,
mtime 12, uid 6, gid 6, mode 8, size 10, magic "`\\n"), data padded to even offsets. The files are in the
member `data.tar[.gz|.xz|.bz2|.zst]`. Python's tarfile reads all but zstd; for a zstd member we fall back to
`dpkg-deb -x` when it is installed.

Extraction never writes outside the target: absolute paths, `..` components, links and device files are
skipped (Python's "data" extraction filter does the same checks; we apply our own so behaviour does not
depend on the Python patch level).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

AR_MAGIC = b"!<arch>\n"
_AR_HEADER = 60


class ArchiveError(ValueError):
    """The archive is malformed or uses a format we cannot read."""


@dataclass(frozen=True)
class ArMember:
    name: str
    data: bytes


def read_ar(blob: bytes) -> list[ArMember]:
    """Members of a System V / GNU `ar` archive (the .deb container)."""
    if not blob.startswith(AR_MAGIC):
        raise ArchiveError("not an ar archive (bad magic)")
    pos = len(AR_MAGIC)
    members: list[ArMember] = []
    while pos < len(blob):
        header = blob[pos : pos + _AR_HEADER]
        if len(header) < _AR_HEADER or header[58:60] != b"`\n":
            raise ArchiveError(f"bad ar member header at byte {pos}")
        name = header[:16].decode("ascii", "replace").rstrip()
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError as exc:
            raise ArchiveError(f"bad ar member size at byte {pos}") from exc
        start = pos + _AR_HEADER
        if start + size > len(blob):
            raise ArchiveError(f"ar member {name!r} is truncated")
        members.append(ArMember(name.rstrip("/"), blob[start : start + size]))
        pos = start + size + (size & 1)
    return members


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    keep = []
    for info in tar.getmembers():
        path = PurePosixPath(info.name)
        if path.is_absolute() or ".." in path.parts:
            continue
        if info.isfile() or info.isdir():
            info.mode = (info.mode | 0o600) & 0o755
            keep.append(info)
    return keep


def extract_tar(fileobj: io.BufferedIOBase | io.BytesIO, dest: Path) -> None:
    """Extract regular files and directories of a (compressed) tar stream into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=fileobj, mode="r:*") as tar:
            members = _safe_members(tar)
            kwargs = {"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(dest, members=members, **kwargs)  # members are already checked
    except tarfile.TarError as exc:
        raise ArchiveError(f"cannot read tar data: {exc}") from exc


def extract_deb(deb: Path, dest: Path) -> None:
    """Unpack the file tree of a .deb (its data.tar member) into `dest`."""
    members = read_ar(deb.read_bytes())
    data = next((m for m in members if m.name.startswith("data.tar")), None)
    if data is None:
        raise ArchiveError(f"{deb.name}: no data.tar member")
    if data.name.endswith(".zst"):
        if shutil.which("dpkg-deb") is None:
            raise ArchiveError(f"{deb.name}: zstd-compressed data needs dpkg-deb, which is not installed")
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True, capture_output=True)
        return
    extract_tar(io.BytesIO(data.data), dest)


def extract_tgz(archive: Path, dest: Path) -> None:
    """Unpack an npm tarball (gzip'd tar with a top-level `package/` folder) into `dest`."""
    with archive.open("rb") as f:
        extract_tar(f, dest)


def deb_control_field(deb: Path, field: str) -> str | None:
    """A field (e.g. "Version") of the package's control file."""
    members = read_ar(deb.read_bytes())
    control = next((m for m in members if m.name.startswith("control.tar")), None)
    if control is None:
        raise ArchiveError(f"{deb.name}: no control.tar member")
    try:
        with tarfile.open(fileobj=io.BytesIO(control.data), mode="r:*") as tar:
            info = next((i for i in tar.getmembers() if PurePosixPath(i.name).name == "control"), None)
            handle = tar.extractfile(info) if info is not None else None
            text = handle.read().decode("utf-8", "replace") if handle is not None else ""
    except tarfile.TarError as exc:
        raise ArchiveError(f"{deb.name}: cannot read control data: {exc}") from exc
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == field.lower():
            return value.strip()
    return None
