"""Downloads from the package registries, through their own clients only: `apt-get download` for Debian
packages and `npm pack` for npm tarballs. Nothing is installed.

Debian point releases (`+debNuN`) replace older .debs on the mirror, so Debian downloads are not pinned:
we take the candidate version apt knows about and record version and SHA-256. npm versions are immutable,
so npm downloads are pinned by version and checked against a known SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from corpus.sources.deb import deb_control_field


class FetchError(RuntimeError):
    """A download failed or did not match what was expected; the message is one line for the user."""


@dataclass(frozen=True)
class Download:
    path: Path
    package: str
    version: str
    sha256: str


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    if shutil.which(cmd[0]) is None:
        raise FetchError(f"{what}: `{cmd[0]}` is not installed (the corpus fetch needs apt-get and npm)")
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"{what}: `{' '.join(cmd)}` timed out") from exc
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        detail = next((ln for ln in lines if ln.startswith("E:") or "ERR" in ln), lines[-1] if lines else "")
        hint = " (run `apt-get update` first?)" if cmd[0] == "apt-get" else ""
        raise FetchError(f"{what}: `{' '.join(cmd)}` failed: {detail.strip()}{hint}")
    return proc.stdout


def apt_download(package: str, workdir: Path) -> Download:
    """`apt-get download PACKAGE` into `workdir`; returns the .deb with its version from the control file."""
    before = set(workdir.glob(f"{package}_*.deb"))
    _run(["apt-get", "download", "-q", package], workdir, package)
    new = sorted(set(workdir.glob(f"{package}_*.deb")) - before)
    if len(new) != 1:
        raise FetchError(f"{package}: apt-get download produced {len(new)} .deb files, expected 1")
    path = new[0]
    version = deb_control_field(path, "Version") or path.name.split("_")[1]
    return Download(path, package, version, sha256_file(path))


def npm_pack(package: str, version: str, workdir: Path, sha256: str | None) -> Download:
    """`npm pack PACKAGE@VERSION` into `workdir`, checked against the pinned SHA-256 when one is given."""
    out = _run(["npm", "pack", f"{package}@{version}", "--json", "--silent"], workdir, package)
    try:
        info = json.loads(out)[0]
        path = workdir / info["filename"]
    except (ValueError, LookupError, TypeError) as exc:
        raise FetchError(f"{package}: cannot read `npm pack --json` output") from exc
    if info.get("version") != version or not path.is_file():
        raise FetchError(f"{package}: npm returned version {info.get('version')!r}, pinned {version!r}")
    digest = sha256_file(path)
    if sha256 is not None and digest != sha256:
        raise FetchError(f"{package}@{version}: sha256 {digest} does not match the pinned {sha256}")
    return Download(path, package, version, digest)
