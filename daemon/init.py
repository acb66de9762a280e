"""`sleepd init` and opening an initialised data directory.

`init_data_dir` creates what is missing and never overwrites or deletes anything, so running it again is
a safe repair (a lost token, a missing generations/current symlink, a DB at an older schema) and a no-op on a
complete data directory. It refuses (InputError, exit 2) only when the request conflicts with what is
there: `--model` naming a different checkpoint than config.toml, or a config.toml that does not validate
(fixing that needs the user's edit, not ours).

Steps, each only when missing: the directory (0700), config.toml (defaults, [model] filled in), sleepd.db
(migrated to the newest schema), token (0600, secrets.token_urlsafe), generations/ and cycles/, and
generation 0: the base model with its zero state, made current.

The base model comes from `--model PATH` or, without it, the embedded default model
(`model.default_model.default_model_path()`, once that exists).

`open_data_dir` is what every other command and the daemon use: paths, validated config, the migrated DB
and the generation store, in one handle.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from daemon.config import ModelConfig, SleepdConfig, load_config, write_config
from daemon.paths import DataPaths, resolve_data_dir
from memory.db import Database, current_revision, head_revision, migrate
from memory.errors import InputError
from memory.generations import GenerationStore, current_generation_id
from model.config import RWKV7Config
from model.fileio import atomic_write_text

TOKEN_BYTES = 32


@dataclass(frozen=True)
class BaseModel:
    """What generation 0 records about the base model (model.checkpoint.CheckpointInfo has these)."""

    path: str
    model_id: str
    sha256: str
    config: RWKV7Config


def inspect_base_model(path: str | os.PathLike | None) -> BaseModel | None:
    """Describe the checkpoint at `path` (or the embedded default model); None if there is none yet."""
    from daemon.model_path import model_path
    from model.checkpoint import CheckpointError, inspect_checkpoint

    try:
        p = model_path(str(path) if path is not None else None)
    except InputError:
        if path is None:
            return None  # no embedded default model in this build
        raise
    if not p.is_file():
        raise InputError(f"{p}: no such model file")
    try:
        info = inspect_checkpoint(p)
    except CheckpointError as e:
        raise InputError(str(e)) from None
    return BaseModel(path=info.path, model_id=info.model_id, sha256=info.sha256, config=info.config)


@dataclass
class InitResult:
    data_dir: Path
    created: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    generation: int | None = None  # the current generation afterwards

    @property
    def changed(self) -> bool:
        return bool(self.created or self.repaired)

    def to_dict(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.data_dir),
            "created": self.created,
            "repaired": self.repaired,
            "notes": self.notes,
            "generation": self.generation,
        }


def init_data_dir(
    data_dir: str | os.PathLike | None = None,
    *,
    model_path: str | os.PathLike | None = None,
    inspect: Callable[[str | os.PathLike | None], BaseModel | None] = inspect_base_model,
    actor: str = "cli:init",
) -> InitResult:
    """Create or repair a data directory (see the module docstring); returns what was done."""
    paths = DataPaths(resolve_data_dir(data_dir))
    res = InitResult(paths.root)
    if paths.root.exists() and not paths.root.is_dir():
        raise InputError(f"{paths.root}: exists and is not a directory")
    if not paths.root.exists():
        paths.root.mkdir(mode=0o700, parents=True)
        res.created.append("data directory")

    # config.toml first: it says which model this data directory belongs to.
    cfg: SleepdConfig | None = None
    if paths.config.exists():
        cfg = load_config(paths.config)
        if model_path is not None:
            want = str(Path(model_path).expanduser().resolve())
            have = cfg.model.path
            if have and str(Path(have).expanduser().resolve()) != want:
                raise InputError(
                    f"{paths.root} is already initialised with model {have}; "
                    "to change it, edit [model] path in config.toml"
                )
        model_arg = model_path if model_path is not None else (cfg.model.path or None)
    else:
        model_arg = model_path
    # Hashing a large checkpoint takes a while: only when generation 0 or config.toml needs it, or asked.
    need_base = model_path is not None or cfg is None or not _has_current_generation(paths)
    base = inspect(model_arg) if need_base else None
    if cfg is not None and base is not None and cfg.model.sha256 and cfg.model.sha256 != base.sha256:
        raise InputError(
            f"model {base.path} has sha256 {base.sha256[:12]}…, but config.toml expects "
            f"{cfg.model.sha256[:12]}…; the file changed since init"
        )
    if cfg is None:
        model_cfg = ModelConfig(path=base.path, sha256=base.sha256) if base is not None else ModelConfig()
        cfg = replace(SleepdConfig(), model=model_cfg)
        write_config(paths.config, cfg)
        res.created.append("config.toml")

    before = current_revision(paths.db) if paths.db.exists() else None
    migrate(paths.db)
    if before is None:
        res.created.append("sleepd.db")
    elif before != head_revision():
        res.repaired.append(f"sleepd.db migrated from {before}")

    if not paths.token.exists():
        atomic_write_text(paths.token, secrets.token_urlsafe(TOKEN_BYTES) + "\n", perm=0o600)
        res.created.append("token")
    else:
        mode = stat.S_IMODE(paths.token.stat().st_mode)
        if mode & 0o077:
            os.chmod(paths.token, 0o600)
            res.repaired.append(f"token permissions {oct(mode)} -> 0o600")

    for d, name in ((paths.generations, "generations/"), (paths.cycles, "cycles/")):
        if not d.exists():
            d.mkdir(mode=0o700)
            res.created.append(name)

    db = Database(paths.db)
    try:
        store = GenerationStore(db, paths.generations)
        with db.read() as s:
            cur = current_generation_id(s)
        if cur is None:
            if base is None:
                res.notes.append(
                    "no base model yet: generation 0 not created (run `sleepd init --model PATH`)"
                )
            else:
                create_base_generation(store, base, actor=actor)
                res.created.append("generation 0")
        else:
            rec = store.reconcile(actor=actor)
            if rec.repaired:
                res.repaired.append(f"generations/current -> {rec.current_id}")
        with db.read() as s:
            res.generation = current_generation_id(s)
    finally:
        db.dispose()
    if not res.changed:
        res.notes.append("already initialised; nothing changed")
    return res


def _has_current_generation(paths: DataPaths) -> bool:
    if not paths.db.exists() or current_revision(paths.db) is None:
        return False
    db = Database(paths.db)
    try:
        with db.read() as s:
            return current_generation_id(s) is not None
    except OperationalError as e:  # an older schema without the pointer table: treat as missing
        if "no such table" not in str(e):
            raise
        return False
    finally:
        db.dispose()


def create_base_generation(store: GenerationStore, base: BaseModel, *, actor: str = "cli:init") -> int:
    """Generation 0: the base model's zero state, current."""
    from model.state import State

    gen = store.create_generation(
        state=State.zeros(base.config),
        status="base",
        make_current=True,
        base_model_id=base.model_id,
        base_model_sha256=base.sha256,
        model_config=base.config.to_dict(),
        actor=actor,
        reason="sleepd init",
    )
    return gen.id


# ---- opening an initialised data directory --------------------------------------------------------------


@dataclass
class DataDir:
    """An open data directory: what commands and the daemon work with. Close it (or use `with`)."""

    paths: DataPaths
    config: SleepdConfig
    db: Database
    generations: GenerationStore

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> DataDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_data_dir(data_dir: str | os.PathLike | None = None, *, migrate_db: bool = True) -> DataDir:
    """Open an initialised data directory; `InputError` (exit 2) when it is not one.

    `migrate_db` upgrades an older schema first (a no-op at head); the daemon and CLI both do it, so a
    freshly installed version works on an old data directory."""
    paths = DataPaths(resolve_data_dir(data_dir))
    if not paths.root.is_dir():
        raise InputError(f"{paths.root}: no data directory (run `sleepd init`)")
    if not paths.db.exists():
        raise InputError(f"{paths.root}: no sleepd.db (run `sleepd init`)")
    cfg = load_config(paths.config)
    if migrate_db and current_revision(paths.db) != head_revision():
        migrate(paths.db)
    db = Database(paths.db)
    return DataDir(paths, cfg, db, GenerationStore(db, paths.generations))


def read_token(paths: DataPaths) -> str:
    with contextlib.suppress(FileNotFoundError):
        token = paths.token.read_text("utf-8").strip()
        if token:
            return token
    raise InputError(f"{paths.token}: no token (run `sleepd init`)")
