"""On-disk formats for document collections.

Fetched corpus (cache directory, large, never committed):
    manifest.json         {"format": 1, "kind": "corpus", "created", "sources": {name: {..., "file", "sha256",
                           "documents", "text_bytes"}}}
    <source>.jsonl        one {"id", "title", "text"} object per line
Text directory (the committed held-out suite and training sample; reviewable plain text):
    manifest.json         {"format": 1, "kind", "documents": [{"id", "title", "file", "sha256",
                           "chars"}], ...}; the list order is the reading order
    <source>/<slug>.txt   the document text plus one final newline

Every file is written atomically; the manifest is written last and lists a SHA-256 for each data file, so a
reader never mistakes a half-written or edited collection for a good one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corpus.sources.document import Document
from model.fileio import atomic_write_bytes, atomic_write_json

FORMAT = 1
MANIFEST = "manifest.json"


class CorpusError(RuntimeError):
    """A document collection is missing, incomplete or corrupt; the message is one line for the user."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CorpusError(f"{folder}: no {MANIFEST}") from exc
    except ValueError as exc:
        raise CorpusError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CorpusError(f"{path}: unknown format (want format {FORMAT})")
    return manifest


def _read_checked(path: Path, sha256: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CorpusError(f"{path} is missing; fetch or rebuild the collection") from exc
    if _sha256(data) != sha256:
        raise CorpusError(f"{path} does not match its manifest checksum; fetch or rebuild the collection")
    return data


# ---- fetched corpus (JSONL per source) -------------------------------------------------------------------


def write_corpus(dest: Path, documents: Mapping[str, list[Document]], sources: Mapping[str, dict]) -> dict:
    """Write one JSONL file per source, then the manifest (which merges `sources[name]` metadata with the
    file's checksum and sizes). Returns the manifest."""
    dest.mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict] = {}
    for name, docs in documents.items():
        lines = [json.dumps({"id": d.id, "title": d.title, "text": d.text}, ensure_ascii=False) for d in docs]
        data = ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
        atomic_write_bytes(dest / f"{name}.jsonl", data)
        entries[name] = {
            **sources.get(name, {}),
            "file": f"{name}.jsonl",
            "sha256": _sha256(data),
            "documents": len(docs),
            "text_bytes": sum(len(d.text.encode("utf-8")) for d in docs),
        }
    manifest = {
        "format": FORMAT,
        "kind": "corpus",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": entries,
    }
    atomic_write_json(dest / MANIFEST, manifest)
    return manifest


def read_corpus(folder: Path) -> tuple[dict[str, Any], list[Document]]:
    """(manifest, documents in manifest source order) of a fetched corpus; CorpusError when damaged."""
    manifest = _read_manifest(folder)
    if manifest.get("kind") != "corpus" or not isinstance(manifest.get("sources"), dict):
        raise CorpusError(f"{folder / MANIFEST}: not a corpus manifest")
    docs: list[Document] = []
    for name, entry in manifest["sources"].items():
        data = _read_checked(folder / entry["file"], entry["sha256"])
        for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
            try:
                obj = json.loads(line)
                doc = Document(obj["id"], obj["title"], obj["text"])
            except (ValueError, KeyError, TypeError) as exc:
                raise CorpusError(f"{folder / entry['file']}:{n}: bad document record") from exc
            if doc.source != name:
                raise CorpusError(f"{folder / entry['file']}:{n}: id {doc.id!r} is not from source {name!r}")
            docs.append(doc)
    return manifest, docs


# ---- text directories (committed suite and sample) -------------------------------------------------------


def doc_file(doc_id: str) -> str:
    source, _, slug = doc_id.partition("/")
    return f"{source}/{slug}.txt"


def write_text_dir(dest: Path, documents: Iterable[Document], meta: Mapping[str, Any]) -> dict:
    """Write each document as `<source>/<slug>.txt`, then the manifest (`meta` plus the document list)."""
    entries = []
    for doc in documents:
        data = (doc.text + "\n").encode("utf-8")
        path = dest / doc_file(doc.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        entries.append(
            {
                "id": doc.id,
                "title": doc.title,
                "file": doc_file(doc.id),
                "sha256": _sha256(data),
                "chars": len(doc.text),
            }
        )
    manifest = {**meta, "format": FORMAT, "documents": entries}
    atomic_write_json(dest / MANIFEST, manifest)
    return manifest


def read_text_dir(folder: Path) -> tuple[dict[str, Any], list[Document]]:
    """(manifest, documents in manifest order) of a text directory; CorpusError when damaged."""
    manifest = _read_manifest(folder)
    docs = []
    for entry in manifest.get("documents", []):
        data = _read_checked(folder / entry["file"], entry["sha256"])
        docs.append(Document(entry["id"], entry["title"], data.decode("utf-8").removesuffix("\n")))
    return manifest, docs


def manifest_ids(folder: Path) -> list[str]:
    """Document ids listed in a text directory's manifest (no file reads beyond the manifest)."""
    return [entry["id"] for entry in _read_manifest(folder).get("documents", [])]
