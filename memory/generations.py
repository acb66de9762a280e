"""Memory generations: versioned recurrent states (or LoRA adapters), promotion, rollback, integrity.

On disk, one directory per generation under <data dir>/generations/:

    <id>/state.safetensors   the learned initial state (model.state.State), or <id>/adapter/ for LoRA
    <id>/eval.json           the evaluation that decided its fate ({} when there was none)
    <id>/manifest.json       id, parent, created_at, cycle id, kind, base model id and sha256, tuner and
                             objective config, model config, sha256 of every other file, sleepd version
    current -> <id>          symlink mirroring the DB pointer

The DB is the truth: row `pointers(name='current')` says which generation is served. The symlink is a
convenience mirror for people and scripts; `reconcile()` repairs it from the DB (the daemon calls it on
start). Every operation below that changes the pointer does, under an exclusive file lock
(generations/.lock, so two processes never interleave their symlink updates):

    1. validate, and verify the target's sha256s (a corrupt generation is never made current);
    2. one DB transaction: pointer, status, audit event (and the caller's `in_transaction` hook, e.g. the
       cycle's own state change, so that a promotion happens at most once);
    3. symlink: a temp symlink next to `current`, os.replace onto it, fsync of the directory.

A crash anywhere leaves the DB at exactly the old or the new generation, and `reconcile()` makes the
symlink agree. Creating a generation writes every file in a temp directory, renames it into place, then
inserts the row: a row always has complete files, and a crash leaves at worst an orphan directory that
`gc` reports and removes.

Nothing here deletes anything except `gc(dry_run=False)`. Loading (`load_current_state`) verifies the
current generation and, when it is corrupt or unreadable, serves the newest valid ancestor, logging loudly
and recording an event; it never changes the pointer and never deletes.

Bad input (unknown id, rolling back past generation 0, promoting a rejected candidate without force) raises
`memory.errors.InputError`; failed integrity raises `IntegrityFailure`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from memory.db import Database
from memory.errors import Conflict, InputError, IntegrityFailure, NotFound
from memory.events import list_events, record_event
from memory.faults import fault_point
from memory.schema import Cycle, Generation, Memory, Pointer, utcnow
from memory.version import sleepd_version
from model.fileio import atomic_write_bytes, atomic_write_json, fsync_dir

if TYPE_CHECKING:
    from model.state import State

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
STATE_NAME = "state.safetensors"
ADAPTER_DIR = "adapter"
EVAL_NAME = "eval.json"
CURRENT_LINK = "current"
LOCK_NAME = ".lock"
MANIFEST_FORMAT = "sleepd-generation"
MANIFEST_VERSION = 1
CURRENT = "current"  # the pointer row's name


# ---- queries (take a Session) ------------------------------------------------------------------


def current_generation_id(session: Session) -> int | None:
    """The served generation's id (None before `sleepd init` made generation 0). Cheap: for polling."""
    return session.scalar(select(Pointer.generation_id).where(Pointer.name == CURRENT))


def get_generation(session: Session, gen_id: int) -> Generation:
    gen = session.get(Generation, gen_id)
    if gen is None:
        raise NotFound(f"no generation {gen_id}")
    return gen


def list_generations(session: Session, *, include_removed: bool = True) -> list[Generation]:
    q = select(Generation).order_by(Generation.id)
    if not include_removed:
        q = q.where(Generation.removed_at.is_(None))
    return list(session.scalars(q))


def lineage(session: Session, gen_id: int) -> list[Generation]:
    """`gen_id` and its ancestors, nearest first, ending at the base generation."""
    chain: list[Generation] = []
    seen: set[int] = set()
    cur: int | None = gen_id
    while cur is not None and cur not in seen:
        gen = get_generation(session, cur)
        chain.append(gen)
        seen.add(cur)
        cur = gen.parent_id
    return chain


def generation_list_json(session: Session) -> list[dict[str, Any]]:
    """Exactly the `sleepd gen list --json` contract: [{"id", "parent", "created_at", "status", "current",
    "pinned"}]."""
    cur = current_generation_id(session)
    return [
        {
            "id": g.id,
            "parent": g.parent_id,
            "created_at": g.created_at.isoformat(),
            "status": g.status,
            "current": g.id == cur,
            "pinned": g.pinned,
        }
        for g in list_generations(session)
    ]


def memories_in_generation(session: Session, gen_id: int) -> set[int]:
    """Ids of the memories generation `gen_id` holds.

    A memory belongs to the generation its cycle created (the cycle's candidate) and to all of that
    generation's descendants, until it is forgotten (before the descendant was created) or superseded by a
    memory that the descendant also holds."""
    chain = lineage(session, gen_id)
    chain_ids = {g.id for g in chain}
    created_at = chain[0].created_at
    cycle_gen = {cid: gid for cid, gid in session.execute(select(Cycle.id, Cycle.candidate_generation_id))}
    mems = list(session.scalars(select(Memory).where(Memory.created_cycle_id.is_not(None))))
    mem_gen = {m.id: cycle_gen.get(m.created_cycle_id) for m in mems}
    held: set[int] = set()
    for m in mems:
        if mem_gen[m.id] not in chain_ids:
            continue
        if m.forgotten_at is not None and m.forgotten_at <= created_at:
            continue
        if m.superseded_by is not None and mem_gen.get(m.superseded_by) in chain_ids:
            continue
        held.add(m.id)
    return held


# ---- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileCheck:
    path: str  # relative to the generation directory
    ok: bool
    expected: str | None
    actual: str | None
    problem: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    generation_id: int
    ok: bool
    files: list[FileCheck]
    problems: list[str]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.generation_id,
            "ok": self.ok,
            "problems": self.problems,
            "warnings": self.warnings,
            "files": [
                {"path": f.path, "ok": f.ok, "expected": f.expected, "actual": f.actual, "problem": f.problem}
                for f in self.files
            ],
        }


@dataclass(frozen=True)
class Switch:
    """The outcome of promote/rollback."""

    action: str  # "promote" | "rollback"
    from_id: int | None
    to_id: int
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "from": self.from_id, "to": self.to_id, "changed": self.changed}


@dataclass
class LoadedGeneration:
    """What `load_current_state` serves: `generation_id` may be an ancestor of `current_id` (fallback)."""

    generation_id: int
    current_id: int
    kind: str
    state: State | None  # kind "state"; a "lora" generation may also carry the state it serves with
    adapter_dir: Path | None  # kind "lora"
    manifest: dict[str, Any]
    fallback_from: list[tuple[int, str]]  # (generation id, why it was skipped), nearest first

    @property
    def is_fallback(self) -> bool:
        return self.generation_id != self.current_id


@dataclass(frozen=True)
class GcPlan:
    remove: list[tuple[int, str]]  # (generation id, why)
    keep: list[tuple[int, str]]
    orphans: list[str]  # directory names with no row (interrupted creates), and leftover temp dirs
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "remove": [{"id": i, "reason": r} for i, r in self.remove],
            "keep": [{"id": i, "reason": r} for i, r in self.keep],
            "orphans": self.orphans,
        }


@dataclass(frozen=True)
class ReconcileResult:
    current_id: int | None
    link_before: str | None  # what `current` pointed to before (None: missing)
    repaired: bool
    removed_temp_links: list[str]
    orphans: list[str]
    missing_dirs: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.current_id,
            "link_before": self.link_before,
            "repaired": self.repaired,
            "removed_temp_links": self.removed_temp_links,
            "orphans": self.orphans,
            "missing_dirs": self.missing_dirs,
        }


# ---- files -------------------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _payload_files(gen_dir: Path) -> list[str]:
    """Every regular file under `gen_dir` except the manifest, as sorted relative POSIX paths."""
    out = []
    for p in gen_dir.rglob("*"):
        if p.is_file() and not p.is_symlink() and p.name != MANIFEST_NAME:
            out.append(p.relative_to(gen_dir).as_posix())
    return sorted(out)


def _manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode()


# ---- the store ---------------------------------------------------------------------------------


class GenerationStore:
    """Generations of one data directory: `GenerationStore(db, data_dir / "generations")`."""

    def __init__(self, db: Database, root: str | os.PathLike) -> None:
        self.db = db
        self.root = Path(root)
        self._thread_lock = threading.RLock()
        self._lock_depth = 0

    # -- paths
    def dir_of(self, gen: Generation | int) -> Path:
        name = gen.dir_name if isinstance(gen, Generation) else str(gen)
        return self.root / name

    @property
    def current_link(self) -> Path:
        return self.root / CURRENT_LINK

    def read_manifest(self, gen_id: int) -> dict[str, Any]:
        path = self.dir_of(gen_id) / MANIFEST_NAME
        try:
            return json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise IntegrityFailure(f"generation {gen_id}: {MANIFEST_NAME} is missing") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise IntegrityFailure(f"generation {gen_id}: {MANIFEST_NAME} is unreadable ({e})") from None

    def read_eval(self, gen_id: int) -> dict[str, Any] | None:
        path = self.dir_of(gen_id) / EVAL_NAME
        try:
            return json.loads(path.read_text("utf-8"))
        except (FileNotFoundError, ValueError, UnicodeDecodeError):
            return None

    # -- lock: one process (and one thread) at a time changes files and the pointer
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            if self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._lock_depth = 1
                try:
                    yield
                finally:
                    self._lock_depth = 0
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    # -- creating ---------------------------------------------------------------------------------
    def create_generation(
        self,
        *,
        base_model_id: str,
        base_model_sha256: str,
        state: State | None = None,
        adapter_dir: str | os.PathLike | None = None,
        parent_id: int | None = None,
        cycle_id: int | None = None,
        status: str = "candidate",
        model_config: dict[str, Any] | None = None,
        tuner_config: dict[str, Any] | None = None,
        objective_config: dict[str, Any] | None = None,
        eval_result: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        note: str | None = None,
        make_current: bool = False,
        actor: str = "library",
        reason: str | None = None,
    ) -> Generation:
        """Write a new generation (files first, then its row) and return the row.

        `status` is "candidate" (a cycle's output, the default), "rejected", or "base" (generation 0, made by
        `sleepd init`: it needs `make_current=True` and no parent). Configs are opaque JSON-able dicts
        recorded in the manifest. Pass `eval_result` here rather than calling `update_eval` later: then
        every file is written once."""
        if state is None and adapter_dir is None:
            raise ValueError(
                "a generation needs state= (state tuning) or adapter_dir= (LoRA, optionally with its state)"
            )
        if status not in ("base", "candidate", "rejected"):
            raise ValueError(f"a new generation's status is base, candidate or rejected, not {status!r}")
        if status == "base" and parent_id is not None:
            raise ValueError("the base generation has no parent")
        if status != "base" and parent_id is None:
            raise ValueError("a non-base generation needs parent_id")
        kind = "lora" if adapter_dir is not None else "state"
        with self._locked():
            with self.db.read() as s:
                if parent_id is not None:
                    parent = get_generation(s, parent_id)
                    if parent.removed_at is not None:
                        raise InputError(f"parent generation {parent_id} was removed by gc")
                if status == "base" and s.scalar(select(Generation.id).limit(1)) is not None:
                    raise Conflict("a base generation exists already")
                db_max = s.scalar(select(Generation.id).order_by(Generation.id.desc()).limit(1))
            dir_ids = [int(p.name) for p in self.root.iterdir() if p.name.isdigit()]
            ids = [*dir_ids, *([db_max] if db_max is not None else [])]
            gen_id = 0 if status == "base" else max(ids, default=0) + 1
            created_at = utcnow()

            tmp = self.root / f".tmp-{gen_id}-{os.getpid()}"
            if tmp.exists():
                shutil.rmtree(tmp)  # our own leftover from a crashed earlier attempt with this pid
            tmp.mkdir()
            meta = {"generation_id": str(gen_id), "base_model_sha256": base_model_sha256}
            if state is not None:
                state.save(tmp / STATE_NAME, metadata=meta)
            if adapter_dir is not None:
                src = Path(adapter_dir)
                if not src.is_dir():
                    raise InputError(f"{src}: adapter directory not found")
                for f in sorted(src.rglob("*")):
                    if f.is_file():
                        dest = tmp / ADAPTER_DIR / f.relative_to(src)
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        atomic_write_bytes(dest, f.read_bytes())
                for d in sorted({p.parent for p in (tmp / ADAPTER_DIR).rglob("*")}, reverse=True):
                    fsync_dir(d)
            atomic_write_json(tmp / EVAL_NAME, eval_result or {})
            manifest = {
                "format": MANIFEST_FORMAT,
                "format_version": MANIFEST_VERSION,
                "id": gen_id,
                "parent": parent_id,
                "created_at": created_at.isoformat(),
                "cycle_id": cycle_id,
                "kind": kind,
                "base_model": {"id": base_model_id, "sha256": base_model_sha256},
                "model_config": model_config or {},
                "tuner": tuner_config or {},
                "objective": objective_config or {},
                "sleepd_version": sleepd_version(),
                "files": {rel: sha256_file(tmp / rel) for rel in _payload_files(tmp)},
                **(extra or {}),
            }
            data = _manifest_bytes(manifest)
            atomic_write_bytes(tmp / MANIFEST_NAME, data)
            fault_point("create", "files_written")
            final = self.root / str(gen_id)
            os.rename(tmp, final)  # fails if `final` exists: ids are never reused
            fsync_dir(self.root)
            fault_point("create", "renamed")

            with self.db.write() as s:
                gen = Generation(
                    id=gen_id,
                    parent_id=parent_id,
                    created_at=created_at,
                    status=status,
                    kind=kind,
                    cycle_id=cycle_id,
                    pinned=False,
                    base_model_id=base_model_id,
                    base_model_sha256=base_model_sha256,
                    dir_name=str(gen_id),
                    manifest_sha256=hashlib.sha256(data).hexdigest(),
                    note=note,
                )
                s.add(gen)
                s.flush()
                if cycle_id is not None:
                    cyc = s.get(Cycle, cycle_id)
                    if cyc is None:
                        raise NotFound(f"no cycle {cycle_id}")
                    cyc.candidate_generation_id = gen_id
                record_event(
                    s,
                    "generation.create",
                    actor=actor,
                    generation_id=gen_id,
                    cycle_id=cycle_id,
                    reason=reason,
                    details={"parent": parent_id, "status": status, "kind": kind},
                )
                if make_current:
                    if current_generation_id(s) is not None:
                        raise Conflict("make_current is only for the first generation; use promote")
                    s.add(Pointer(name=CURRENT, generation_id=gen_id, updated_at=created_at))
                fault_point("create", "before_db_commit")
            fault_point("create", "after_db_commit")
            if make_current:
                self._point_link(gen_id, None)
            return gen

    def update_eval(self, gen_id: int, eval_result: dict[str, Any], *, actor: str = "library") -> None:
        """Replace eval.json (and the manifest's record of it). Prefer `create_generation(eval_result=...)`:
        a crash between the two file writes here leaves `verify` reporting eval.json until this is re-run."""
        with self._locked():
            with self.db.read() as s:
                gen = get_generation(s, gen_id)
            gdir = self.dir_of(gen)
            manifest = self.read_manifest(gen_id)
            atomic_write_json(gdir / EVAL_NAME, eval_result)
            manifest["files"][EVAL_NAME] = sha256_file(gdir / EVAL_NAME)
            data = _manifest_bytes(manifest)
            atomic_write_bytes(gdir / MANIFEST_NAME, data)
            with self.db.write() as s:
                get_generation(s, gen_id).manifest_sha256 = hashlib.sha256(data).hexdigest()
                record_event(s, "generation.eval", actor=actor, generation_id=gen_id)

    # -- verifying --------------------------------------------------------------------------------
    def verify(self, gen_id: int | None = None) -> list[VerifyResult]:
        """Check every file's sha256 against the manifest (and the manifest against the DB), for one
        generation or, with None, every generation whose files were not removed by gc."""
        with self.db.read() as s:
            gens = (
                [get_generation(s, gen_id)]
                if gen_id is not None
                else list_generations(s, include_removed=False)
            )
        return [self.verify_generation(g) for g in gens]

    def verify_generation(self, gen: Generation) -> VerifyResult:
        gdir = self.dir_of(gen)
        problems: list[str] = []
        warnings: list[str] = []
        checks: list[FileCheck] = []
        if gen.removed_at is not None:
            return VerifyResult(gen.id, False, [], [f"files removed by gc at {gen.removed_at.isoformat()}"])
        if not gdir.is_dir():
            return VerifyResult(gen.id, False, [], [f"directory {gdir} is missing"])
        mpath = gdir / MANIFEST_NAME
        try:
            data = mpath.read_bytes()
        except FileNotFoundError:
            return VerifyResult(gen.id, False, [], [f"{MANIFEST_NAME} is missing"])
        actual = hashlib.sha256(data).hexdigest()
        mcheck = FileCheck(MANIFEST_NAME, actual == gen.manifest_sha256, gen.manifest_sha256, actual)
        if not mcheck.ok:
            mcheck = FileCheck(
                MANIFEST_NAME, False, gen.manifest_sha256, actual, "sha256 differs from the DB"
            )
            problems.append(f"{MANIFEST_NAME}: sha256 differs from the DB record")
        checks.append(mcheck)
        try:
            manifest = json.loads(data)
            files = dict(manifest["files"])
            if manifest.get("id") != gen.id:
                problems.append(f"{MANIFEST_NAME}: id is {manifest.get('id')!r}, expected {gen.id}")
        except (ValueError, KeyError, TypeError) as e:
            problems.append(f"{MANIFEST_NAME}: unreadable ({e})")
            return VerifyResult(gen.id, False, checks, problems)
        payload = STATE_NAME if gen.kind == "state" else ADAPTER_DIR + "/"
        if not any(rel == payload or rel.startswith(payload) for rel in files):
            problems.append(f"manifest lists no {payload}")
        for rel, expected in sorted(files.items()):
            path = gdir / rel
            if not path.is_file():
                checks.append(FileCheck(rel, False, expected, None, "missing"))
                problems.append(f"{rel}: missing")
                continue
            got = sha256_file(path)
            if got != expected:
                checks.append(FileCheck(rel, False, expected, got, "sha256 mismatch"))
                problems.append(f"{rel}: sha256 mismatch")
            else:
                checks.append(FileCheck(rel, True, expected, got))
        for rel in _payload_files(gdir):
            if rel not in files:
                warnings.append(f"{rel}: not in the manifest")
        return VerifyResult(gen.id, not problems, checks, problems, warnings)

    # -- switching --------------------------------------------------------------------------------
    def promote(
        self,
        gen_id: int,
        *,
        reason: str | None = None,
        actor: str = "library",
        force: bool = False,
        in_transaction: Callable[[Session], None] | None = None,
    ) -> Switch:
        """Make `gen_id` current. A rejected candidate needs `force`. Promoting the current generation is a
        no-op (`changed=False`), so a resumed cycle cannot promote twice."""
        with self._locked():
            fault_point("promote", "start")
            with self.db.read() as s:
                gen = get_generation(s, gen_id)
                cur = current_generation_id(s)
            self._check_switchable(gen)
            if gen.status == "rejected" and not force:
                raise InputError(
                    f"generation {gen_id} was rejected by its gates; use --force to promote it anyway"
                )
            if cur == gen_id:
                return Switch("promote", cur, gen_id, False)
            self._require_valid(gen)
            fault_point("promote", "verified")
            return self._switch("promote", gen_id, reason, actor, in_transaction, forced=force)

    def rollback(
        self,
        to: int | None = None,
        *,
        reason: str | None = None,
        actor: str = "library",
        in_transaction: Callable[[Session], None] | None = None,
    ) -> Switch:
        """Make an ancestor of the current generation current (default: its parent)."""
        with self._locked():
            fault_point("rollback", "start")
            with self.db.read() as s:
                cur = current_generation_id(s)
                if cur is None:
                    raise InputError("there is no current generation (run `sleepd init`)")
                chain = lineage(s, cur)
                if to is None:
                    if chain[0].parent_id is None:
                        raise InputError(f"generation {cur} has no parent; cannot roll back past it")
                    target = chain[1]
                else:
                    target = get_generation(s, to)
                    if target.id == cur:
                        raise InputError(f"generation {to} is already current")
                    if target.id not in {g.id for g in chain}:
                        raise InputError(
                            f"generation {to} is not an ancestor of the current generation {cur}; "
                            f"use `sleepd gen promote {to}`"
                        )
            self._check_switchable(target)
            self._require_valid(target)
            fault_point("rollback", "verified")
            return self._switch("rollback", target.id, reason, actor, in_transaction)

    def _check_switchable(self, gen: Generation) -> None:
        if gen.removed_at is not None:
            raise InputError(f"generation {gen.id}'s files were removed by `gen gc`")

    def _require_valid(self, gen: Generation) -> None:
        res = self.verify_generation(gen)
        if not res.ok:
            raise IntegrityFailure(f"generation {gen.id} failed verification ({'; '.join(res.problems)})")

    def _switch(
        self,
        op: str,
        gen_id: int,
        reason: str | None,
        actor: str,
        in_transaction: Callable[[Session], None] | None,
        forced: bool = False,
    ) -> Switch:
        with self.db.write() as s:
            old = current_generation_id(s)
            gen = get_generation(s, gen_id)
            now = utcnow()
            ptr = s.get(Pointer, CURRENT)
            if ptr is None:
                s.add(Pointer(name=CURRENT, generation_id=gen_id, updated_at=now))
            else:
                ptr.generation_id = gen_id
                ptr.updated_at = now
            if gen.status in ("candidate", "rejected"):
                gen.status = "promoted"
            details: dict[str, Any] = {"from": old, "to": gen_id}
            if forced:
                details["forced"] = True
            record_event(
                s,
                f"generation.{op}",
                actor=actor,
                generation_id=gen_id,
                cycle_id=gen.cycle_id,
                reason=reason,
                details=details,
            )
            if in_transaction is not None:
                in_transaction(s)
            fault_point(op, "before_db_commit")
        fault_point(op, "after_db_commit")
        self._point_link(gen_id, op)
        fault_point(op, "done")
        return Switch(op, old, gen_id, True)

    def _point_link(self, gen_id: int, op: str | None) -> None:
        """Atomically point generations/current at `gen_id` (relative target: the data dir can move).
        `op` names the fault points to pass (promote/rollback), None for none."""
        tmp = self.root / f".{CURRENT_LINK}.tmp-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(str(gen_id), tmp)
        if op:
            fault_point(op, "after_temp_symlink")
        os.replace(tmp, self.current_link)
        if op:
            fault_point(op, "after_symlink_replace")
        fsync_dir(self.root)

    def reject(
        self,
        gen_id: int,
        *,
        reason: str | None = None,
        actor: str = "library",
        in_transaction: Callable[[Session], None] | None = None,
    ) -> Generation:
        """Mark a candidate rejected (its files stay until `gc` after gc_rejected_after_days)."""
        with self.db.write() as s:
            gen = get_generation(s, gen_id)
            if gen.status != "candidate":
                raise InputError(f"generation {gen_id} is {gen.status}, not a candidate")
            gen.status = "rejected"
            record_event(
                s,
                "generation.reject",
                actor=actor,
                generation_id=gen_id,
                cycle_id=gen.cycle_id,
                reason=reason,
            )
            if in_transaction is not None:
                in_transaction(s)
            return gen

    def set_pinned(
        self, gen_id: int, pinned: bool, *, reason: str | None = None, actor: str = "library"
    ) -> bool:
        """Pin or unpin (pinned generations survive gc); returns whether anything changed."""
        with self.db.write() as s:
            gen = get_generation(s, gen_id)
            if gen.pinned == pinned:
                return False
            gen.pinned = pinned
            record_event(
                s,
                "generation.pin" if pinned else "generation.unpin",
                actor=actor,
                generation_id=gen_id,
                reason=reason,
            )
            return True

    def pin(self, gen_id: int, **kw: Any) -> bool:
        return self.set_pinned(gen_id, True, **kw)

    def unpin(self, gen_id: int, **kw: Any) -> bool:
        return self.set_pinned(gen_id, False, **kw)

    # -- start-up repair --------------------------------------------------------------------------
    def reconcile(self, *, actor: str = "daemon") -> ReconcileResult:
        """Make generations/current mirror the DB pointer; remove our leftover temp symlinks.

        Orphan directories (interrupted creates) are only reported; `gc --yes` removes them."""
        with self._locked():
            with self.db.read() as s:
                cur = current_generation_id(s)
                rows = list_generations(s)
            link_before = os.readlink(self.current_link) if self.current_link.is_symlink() else None
            removed = []
            for p in self.root.glob(f".{CURRENT_LINK}.tmp-*"):
                if p.is_symlink():
                    p.unlink()
                    removed.append(p.name)
            repaired = False
            if cur is not None and link_before != str(cur):
                if self.current_link.exists() and not self.current_link.is_symlink():
                    raise IntegrityFailure(f"{self.current_link} exists and is not a symlink; move it away")
                self._point_link(cur, None)
                repaired = True
                log.warning(
                    "generations/current pointed to %s; repaired to %s (the DB pointer)", link_before, cur
                )
                with self.db.write() as s:
                    record_event(
                        s,
                        "generation.reconcile",
                        actor=actor,
                        generation_id=cur,
                        details={"link_before": link_before, "db": cur},
                    )
            known = {g.dir_name for g in rows}
            missing = [g.id for g in rows if g.removed_at is None and not self.dir_of(g).is_dir()]
            for gid in missing:
                log.error("generation %d: directory %s is missing", gid, self.dir_of(gid))
            return ReconcileResult(cur, link_before, repaired, removed, self._orphans(known), missing)

    def _orphans(self, known_dirs: set[str]) -> list[str]:
        """Directories that are not a live generation: interrupted creates, temp and trash dirs."""
        out: list[str] = []
        if not self.root.is_dir():
            return out
        for p in sorted(self.root.iterdir()):
            if not p.is_dir() or p.is_symlink():
                continue
            if p.name.startswith((".tmp-", ".trash-")) or (p.name.isdigit() and p.name not in known_dirs):
                out.append(p.name)
        return out

    # -- loading ----------------------------------------------------------------------------------
    def load_current_state(self, *, device: str = "cpu", actor: str = "daemon") -> LoadedGeneration:
        """Load the current generation, verified; if it is corrupt or unreadable, the newest valid ancestor
        (logged at ERROR and recorded as a `generation.load_fallback` event). Never changes the pointer,
        never deletes. Raises IntegrityFailure when no generation in the lineage is usable."""
        with self.db.read() as s:
            cur = current_generation_id(s)
            if cur is None:
                raise InputError("there is no current generation (run `sleepd init`)")
            chain = lineage(s, cur)
        return self._load_first_valid(chain, cur, device=device, actor=actor)

    def load_generation(self, gen_id: int, *, device: str = "cpu") -> LoadedGeneration:
        """Load one generation exactly (verified); no fallback."""
        with self.db.read() as s:
            gen = get_generation(s, gen_id)
        loaded, problem = self._try_load(gen, device)
        if loaded is None:
            raise IntegrityFailure(f"generation {gen_id}: {problem}")
        return loaded

    def _try_load(self, gen: Generation, device: str) -> tuple[LoadedGeneration | None, str]:
        res = self.verify_generation(gen)
        if not res.ok:
            return None, "; ".join(res.problems)
        gdir = self.dir_of(gen)
        try:
            manifest = json.loads((gdir / MANIFEST_NAME).read_text("utf-8"))
            state = None
            adapter = None
            if gen.kind == "state" or (gdir / STATE_NAME).is_file():  # LoRA generations may carry one too
                from model.state import State

                state = State.load(gdir / STATE_NAME, device=device)
                if not state.is_finite():
                    return None, "state has non-finite values"
            if gen.kind == "lora":
                adapter = gdir / ADAPTER_DIR
        except Exception as e:  # any unreadable file means: not servable, try the parent
            return None, f"unreadable: {e}"
        return LoadedGeneration(gen.id, gen.id, gen.kind, state, adapter, manifest, []), ""

    def _load_first_valid(
        self, chain: list[Generation], cur: int, *, device: str, actor: str
    ) -> LoadedGeneration:
        failures: list[tuple[int, str]] = []
        for gen in chain:
            if gen.removed_at is not None:
                failures.append((gen.id, "files removed by gc"))
                continue
            loaded, problem = self._try_load(gen, device)
            if loaded is None:
                failures.append((gen.id, problem))
                continue
            loaded.current_id = cur
            loaded.fallback_from = failures
            if failures:
                log.error(
                    "CURRENT GENERATION %d IS NOT USABLE (%s); serving generation %d instead. "
                    "Run `sleepd gen verify` and `sleepd gen rollback %d` or restore the files.",
                    cur,
                    "; ".join(f"{i}: {p}" for i, p in failures),
                    gen.id,
                    gen.id,
                )
                with self.db.write() as s:
                    record_event(
                        s,
                        "generation.load_fallback",
                        actor=actor,
                        generation_id=gen.id,
                        reason=f"generation {cur} failed to load or verify",
                        details={"current": cur, "served": gen.id, "failures": [list(f) for f in failures]},
                    )
            return loaded
        raise IntegrityFailure(
            f"no usable generation in the lineage of {cur}: " + "; ".join(f"{i}: {p}" for i, p in failures)
        )

    # -- garbage collection -----------------------------------------------------------------------
    def gc(
        self,
        *,
        dry_run: bool = True,
        keep_ancestors: int = 5,
        rejected_after_days: float = 14.0,
        now: datetime | None = None,
        actor: str = "library",
        reason: str | None = None,
    ) -> GcPlan:
        """Plan (and, unless dry_run, carry out) removal of generation files.

        Kept: generation 0 (the base, needed for rebuilds and gates), pinned ones, the current one and its
        `keep_ancestors` nearest ancestors, and candidates/rejected ones younger than `rejected_after_days`.
        Removed: rejected or abandoned candidates older than that, and promoted generations that are neither
        current nor a kept ancestor. Rows stay (with removed_at) as history. Orphan and temp directories
        are removed too."""
        now = now or utcnow()
        with self._locked():
            with self.db.read() as s:
                cur = current_generation_id(s)
                rows = list_generations(s)
                kept_ancestors: dict[int, int] = {}
                if cur is not None:
                    for depth, g in enumerate(lineage(s, cur)[1:], start=1):
                        if depth <= keep_ancestors:
                            kept_ancestors[g.id] = depth
            remove: list[tuple[int, str]] = []
            keep: list[tuple[int, str]] = []
            cutoff = now - timedelta(days=rejected_after_days)
            for g in rows:
                if g.removed_at is not None:
                    continue
                if g.id == cur:
                    keep.append((g.id, "current"))
                elif g.pinned:
                    keep.append((g.id, "pinned"))
                elif g.status == "base":
                    keep.append((g.id, "base generation"))
                elif g.id in kept_ancestors:
                    keep.append((g.id, f"ancestor {kept_ancestors[g.id]} of current"))
                elif g.status in ("rejected", "candidate"):
                    if g.created_at < cutoff:
                        remove.append((g.id, f"{g.status}, older than {rejected_after_days:g} days"))
                    else:
                        keep.append((g.id, f"{g.status}, younger than {rejected_after_days:g} days"))
                else:
                    remove.append((g.id, f"{g.status}, not current and beyond {keep_ancestors} ancestors"))
            orphans = self._orphans({g.dir_name for g in rows if g.removed_at is None})
            plan = GcPlan(remove, keep, orphans, dry_run)
            if dry_run:
                return plan
            by_id = {g.id: g for g in rows}
            for gid, why in remove:
                with self.db.write() as s:  # first the row: nobody loads it from now on
                    get_generation(s, gid).removed_at = now
                    record_event(
                        s,
                        "generation.gc",
                        actor=actor,
                        generation_id=gid,
                        reason=reason or why,
                        details={"why": why},
                    )
                fault_point("gc", "after_db_commit")
                self._trash(self.dir_of(by_id[gid]))
            for name in orphans:
                self._trash(self.root / name)
            if remove or orphans:
                with self.db.write() as s:
                    record_event(
                        s,
                        "generation.gc_done",
                        actor=actor,
                        reason=reason,
                        details={"removed": [i for i, _ in remove], "orphans": orphans},
                    )
            return plan

    def _trash(self, path: Path) -> None:
        if not path.exists():
            return
        trash = self.root / f".trash-{path.name.lstrip('.')}-{os.getpid()}"
        os.rename(path, trash)  # one atomic step out of sight, then the slow delete
        fsync_dir(self.root)
        fault_point("gc", "after_rename")
        shutil.rmtree(trash)

    # -- inspection -------------------------------------------------------------------------------
    def show(self, gen_id: int) -> dict[str, Any]:
        """Everything about one generation: row, current flag, manifest, eval, its recent events."""
        with self.db.read() as s:
            gen = get_generation(s, gen_id)
            cur = current_generation_id(s)
            children = [g.id for g in list_generations(s) if g.parent_id == gen_id]
            events = [e.to_dict() for e in list_events(s, generation_id=gen_id, limit=20)]
        try:
            manifest: dict[str, Any] | None = self.read_manifest(gen_id) if gen.removed_at is None else None
        except IntegrityFailure as e:
            manifest = {"error": str(e)}
        return {
            **gen.to_dict(),
            "parent": gen.parent_id,
            "current": gen.id == cur,
            "children": children,
            "dir": str(self.dir_of(gen)),
            "manifest": manifest,
            "eval": self.read_eval(gen_id) if gen.removed_at is None else None,
            "events": events,
        }

    def diff(self, a: int, b: int, *, top_heads: int = 10) -> dict[str, Any]:
        """How generation `b` differs from `a`: per-layer state norms and cosine similarity, the heads whose
        wkv state changed most, and the memories added and removed."""
        with self.db.read() as s:
            ga, gb = get_generation(s, a), get_generation(s, b)
            mem_a, mem_b = memories_in_generation(s, a), memories_in_generation(s, b)
            added_ids, removed_ids = sorted(mem_b - mem_a), sorted(mem_a - mem_b)
            mems = {m.id: m for m in s.scalars(select(Memory).where(Memory.id.in_(added_ids + removed_ids)))}
        out: dict[str, Any] = {"a": a, "b": b}
        if ga.kind == "state" and gb.kind == "state":
            la, lb = self.load_generation(a), self.load_generation(b)
            from memory.state_diff import state_diff  # torch only for this command

            out.update(state_diff(la.state, lb.state, top_heads=top_heads))  # type: ignore[arg-type]
        else:
            out["layers"] = None
            out["heads"] = None
            out["note"] = "state diff needs two state generations"

        def brief(i: int) -> dict[str, Any]:
            m = mems[i]
            return {"id": m.id, "text": m.text, "status": m.status}

        out["memories"] = {"added": [brief(i) for i in added_ids], "removed": [brief(i) for i in removed_ids]}
        return out
