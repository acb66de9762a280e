"""Ambrose Bierce's "The Devil's Dictionary" from Debian's dict-devil -> one document for the preface and one
per initial letter.

`devil.dict.dz` is dictzip (gzip-compatible). The dictfmt database starts with `00-database-*` metadata and
the 1993 e-text banner; Bierce's text starts at the centred "PREFACE" line and ends before the dictfmt
trailer line "abcdefghijklmnopqrstuvwxyz". Entries start at column 0 with the capitalised headword and its
part of speech ("ABASEMENT, n."); quoted verse is indented.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

from corpus.sources.document import Document
from corpus.sources.textclean import join_paragraphs, normalize, paragraphs, strip_emphasis

_PREFACE_RE = re.compile(r"^\s+PREFACE\s*$", re.M)
_TRAILER_RE = re.compile(r"\n\s*abcdefghijklmnopqrstuvwxyz\s*$")
_ENTRY_RE = re.compile(r"^([A-Z][A-Z' -]*[A-Z]|[A-Z]),\s", re.M)


class DevilError(ValueError):
    """The dictionary text does not have the expected layout."""


def devil_text(dict_dz: Path) -> str:
    """Bierce's text (preface and entries) from the dictzip file."""
    with gzip.open(dict_dz, "rt", encoding="utf-8", errors="replace") as f:
        text = normalize(f.read())
    m = _PREFACE_RE.search(text)
    if not m:
        raise DevilError(f"{dict_dz}: no PREFACE line")
    return _TRAILER_RE.sub("\n", text[m.end() :])


def devil_documents_from_text(text: str) -> Iterator[Document]:
    starts = [m.start() for m in _ENTRY_RE.finditer(text)]
    if not starts:
        raise DevilError("no dictionary entries found")
    preface = [strip_emphasis(p) for p in paragraphs(text[: starts[0]])]
    yield Document("devil/preface", "The Devil's Dictionary, Preface", join_paragraphs(["PREFACE", *preface]))
    by_letter: dict[str, list[str]] = {}
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        entry = text[start:end]
        by_letter.setdefault(entry[0], []).extend(strip_emphasis(p) for p in paragraphs(entry))
    for letter in sorted(by_letter):
        yield Document(
            f"devil/{letter.lower()}", f"The Devil's Dictionary, {letter}", join_paragraphs(by_letter[letter])
        )


def devil_documents(dict_dz: Path) -> Iterator[Document]:
    yield from devil_documents_from_text(devil_text(dict_dz))
