"""Decoder for SWORD "zText" Bible modules (e.g. Debian's sword-text-web) -> chapter documents.

A zText module keeps each testament in three files:
- `<t>.bzs` block index: 12-byte records <offset u32, compressed size u32, uncompressed size u32> into `.bzz`;
- `<t>.bzz` zlib-compressed blocks (one per book with BlockType=BOOK);
- `<t>.bzv` verse index: 10-byte records <block u32, offset u32, size u16>, one per verse slot of the
  module's versification, in canonical order; size 0 means an empty slot.
All integers are little-endian. Each verse is OSIS XML markup. The markup carries the structure we need:
`<chapter sID="Gen.1"/>` starts a chapter, `<div type="x-p"/>` and `<lb type="x-p"/>` mark paragraph breaks,
`<l>` marks poetry lines, `<milestone type="x-usfm-h" n="Genesis"/>` names the book. Footnotes, cross
references, alternate readings and editorial headings are dropped.
"""

from __future__ import annotations

import html
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from corpus.sources.document import Document, slugify
from corpus.sources.textclean import collapse_spaces, join_paragraphs, normalize

_BZS = struct.Struct("<III")
_BZV = struct.Struct("<IIH")


class SwordError(ValueError):
    """The module files are inconsistent."""


def read_ztext(module_dir: Path) -> Iterator[str]:
    """Every non-empty verse slot's raw markup, Old then New Testament, in index order."""
    for testament in ("ot", "nt"):
        base = module_dir / testament
        if not Path(f"{base}.bzs").exists():
            continue
        bzs, bzz, bzv = (Path(f"{base}{ext}").read_bytes() for ext in (".bzs", ".bzz", ".bzv"))
        cache: dict[int, bytes] = {}
        for k in range(len(bzv) // _BZV.size):
            block, offset, size = _BZV.unpack_from(bzv, k * _BZV.size)
            if size == 0:
                continue
            if block not in cache:
                if (block + 1) * _BZS.size > len(bzs):
                    raise SwordError(f"{testament}: verse {k} points at missing block {block}")
                start, length, usize = _BZS.unpack_from(bzs, block * _BZS.size)
                data = zlib.decompress(bzz[start : start + length])
                if len(data) != usize:
                    raise SwordError(f"{testament}: block {block} is {len(data)} bytes, index says {usize}")
                cache = {block: data}  # blocks are read in order; keep only the current one
            yield cache[block][offset : offset + size].decode("utf-8", "replace")


# Elements dropped with their content: notes (footnotes, cross references), alternate readings, and
# headings (the translators' section titles; psalm superscriptions are canonical text and are kept).
_DROP_RE = re.compile(
    r"<note\b[^>]*>.*?</note>|<rdg\b[^>]*>.*?</rdg>|<title\b(?![^>]*type=\"psalm\")[^>]*>.*?</title>", re.S
)
_TAG_RE = re.compile(r"<(/?)([A-Za-z]+)([^>]*?)(/?)>")
_ATTR_RE = re.compile(r'(\w+)="([^"]*)"')
_PARTIAL_TAG_RE = re.compile(r"<[^>]*$")  # one slot in engWEB2015eb ends inside a tag


@dataclass
class Chapter:
    osis_id: str  # "Gen.1"
    book_name: str
    paragraphs: list[str] = field(default_factory=list)

    @property
    def book(self) -> str:
        return self.osis_id.rsplit(".", 1)[0]

    @property
    def number(self) -> int:
        return int(self.osis_id.rsplit(".", 1)[1])


def osis_chapters(verses: Iterator[str]) -> Iterator[Chapter]:
    """Group verse markup into chapters of paragraphs. Material before the first chapter (the translators'
    preface) comes out as a chapter with osis_id "front.0"."""
    chapter = Chapter("front.0", "Preface")
    book_name = ""
    para: list[str] = []  # lines of the current paragraph
    line: list[str] = []  # text pieces of the current line

    def end_line() -> None:
        text = collapse_spaces(html.unescape("".join(line)))
        line.clear()
        if text:
            para.append(text)

    def end_para() -> None:
        end_line()
        if para:
            chapter.paragraphs.append("\n".join(para))
            para.clear()

    for raw in verses:
        markup = _DROP_RE.sub(" ", raw)
        pos = 0
        for m in _TAG_RE.finditer(markup):
            line.append(markup[pos : m.start()])
            pos = m.end()
            _, name, attr_text, _ = m.groups()
            attrs = dict(_ATTR_RE.findall(attr_text))
            kind = attrs.get("type", "")
            if name == "chapter" and "sID" in attrs:
                end_para()
                if chapter.paragraphs:
                    yield chapter
                chapter = Chapter(attrs.get("osisID", attrs["sID"]), book_name)
            elif name == "milestone" and kind == "x-usfm-h":
                book_name = attrs.get("n", book_name)
            elif name in ("lg", "list", "title") or (
                name in ("div", "lb") and kind in ("x-p", "introduction", "book")
            ):
                end_para()  # a psalm superscription (the only title left) is a paragraph of its own
            elif name in ("l", "item"):
                end_line()
        line.append(_PARTIAL_TAG_RE.sub("", markup[pos:]) + " ")  # verse boundary
    end_para()
    if chapter.paragraphs:
        yield chapter


def web_documents(module_dir: Path, source: str = "web") -> Iterator[Document]:
    """Chapter documents ("<source>/gen-001"), headed "Genesis 1"; the preface is "<source>/preface"."""
    for ch in osis_chapters(read_ztext(module_dir)):
        text = normalize(join_paragraphs(ch.paragraphs))
        if ch.book == "front":
            yield Document(f"{source}/preface", "Preface to the World English Bible", text)
            continue
        title = f"{ch.book_name or ch.book} {ch.number}"
        yield Document(f"{source}/{slugify(ch.book)}-{ch.number:03d}", title, f"{title}\n\n{text}")
