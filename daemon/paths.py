"""Where sleepd keeps things.

Data directory: `--data-dir` > `$SLEEPD_HOME` > platformdirs `user_data_dir("sleepd")`
(`~/.local/share/sleepd` on Linux). Its layout is a contract (docs/ARCHITECTURE.md):

    config.toml  sleepd.db  token  generations/<id>/  generations/current -> <id>  cycles/<id>/

The single-instance lock of `sleepd serve` lives in the runtime directory ($XDG_RUNTIME_DIR/sleepd, cleared
at logout/reboot, so a stale lock file cannot outlive the machine), or in <data dir>/run where there is no
usable runtime directory (containers, cron). One lock per data directory, so two data directories can each
run a daemon.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "sleepd"
ENV_HOME = "SLEEPD_HOME"
CONFIG_NAME = "config.toml"
DB_NAME = "sleepd.db"
TOKEN_NAME = "token"
GENERATIONS_DIR = "generations"
CYCLES_DIR = "cycles"
CURRENT_LINK = "current"


def resolve_data_dir(
    cli_value: str | os.PathLike | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The data directory, absolute: `--data-dir`, else $SLEEPD_HOME, else the platformdirs default."""
    env = os.environ if env is None else env
    if cli_value:
        raw = Path(cli_value)
    elif env.get(ENV_HOME):
        raw = Path(env[ENV_HOME])
    else:
        raw = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return Path(os.path.abspath(raw.expanduser()))


@dataclass(frozen=True)
class DataPaths:
    root: Path

    @classmethod
    def resolve(cls, cli_value: str | os.PathLike | None = None) -> DataPaths:
        return cls(resolve_data_dir(cli_value))

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def db(self) -> Path:
        return self.root / DB_NAME

    @property
    def token(self) -> Path:
        return self.root / TOKEN_NAME

    @property
    def generations(self) -> Path:
        return self.root / GENERATIONS_DIR

    @property
    def current_link(self) -> Path:
        return self.generations / CURRENT_LINK

    @property
    def cycles(self) -> Path:
        return self.root / CYCLES_DIR

    def cycle_dir(self, cycle_id: int) -> Path:
        return self.cycles / str(cycle_id)

    @property
    def runtime(self) -> Path:
        return runtime_dir(self.root)

    @property
    def lock_file(self) -> Path:
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        return self.runtime / f"serve-{digest}.lock"

    def is_initialised(self) -> bool:
        return self.config.exists() and self.db.exists()


def runtime_dir(data_dir: Path, env: Mapping[str, str] | None = None) -> Path:
    """A private (0700) directory for the lock; created if missing."""
    env = os.environ if env is None else env
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg and Path(xdg).is_dir() and os.access(xdg, os.W_OK | os.X_OK):
        path = Path(xdg) / APP_NAME
    else:
        path = data_dir / "run"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
