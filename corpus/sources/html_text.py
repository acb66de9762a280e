"""HTML documentation pages (sqlite3-doc, postgresql-doc-15) -> prose paragraphs.

Keeps the text of block elements (paragraphs, list items, definitions, table cells, headings) and drops code
(`<pre>`), scripts, styles, drawings, and navigation (elements whose class names a menu, a navigation bar
or a table of contents). A paragraph is kept when it reads as prose (`textclean.is_prose`); headings are kept
whenever they are mostly letters. Text repeated on many pages of one manual (menus, footers) is removed by
`drop_boilerplate`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

from corpus.sources.document import Document, slugify
from corpus.sources.textclean import (
    alpha_fraction,
    collapse_spaces,
    is_prose,
    join_paragraphs,
    normalize,
)

_BLOCK_TAGS = {
    "p", "li", "dd", "dt", "blockquote", "td", "th", "tr", "table", "ul", "ol", "dl", "div", "br",
    "h1", "h2", "h3", "h4", "h5", "h6", "caption", "section", "article", "body",
}  # fmt: skip
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_SKIP_TAGS = {"script", "style", "pre", "svg", "head", "nav", "object", "noscript", "form", "select", "math"}
_SKIP_CLASS_RE = re.compile(
    r"\b(?:menu|mainmenu|submenu|searchmenu|nosearch|navheader|navfooter|navigation|toc|fancy_toc|"
    r"tagline|footer|imgcontainer)\b",
    re.I,
)
_VOID_TAGS = {"br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"}


class _ProseParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.paragraphs: list[str] = []
        self._buf: list[str] = []
        self._skip_tag: str | None = None
        self._skip_nesting = 0
        self._in_title = False
        self._heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_nesting += 1
            return
        css = " ".join(v or "" for k, v in attrs if k in ("class", "id"))
        if tag in _SKIP_TAGS or (tag not in _VOID_TAGS and css and _SKIP_CLASS_RE.search(css)):
            self._flush()
            self._skip_tag, self._skip_nesting = tag, 1
            return
        if tag in _BLOCK_TAGS:
            self._flush()
            self._heading = tag in _HEADINGS

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_nesting -= 1
                if self._skip_nesting == 0:
                    self._skip_tag = None
            return
        if tag in _BLOCK_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif self._skip_tag is None:
            self._buf.append(data)

    def _flush(self) -> None:
        text = collapse_spaces("".join(self._buf))
        self._buf = []
        if self._heading:
            if len(text) >= 3 and alpha_fraction(text) >= 0.5:
                self.paragraphs.append(text)
            self._heading = False
        elif is_prose(text):
            self.paragraphs.append(text)

    def close(self) -> None:
        super().close()
        self._flush()


def html_paragraphs(html: str) -> tuple[str, list[str]]:
    """(page title, prose paragraphs) of one HTML page."""
    parser = _ProseParser()
    parser.feed(normalize(html))
    parser.close()
    return collapse_spaces(parser.title), parser.paragraphs


def read_html(path: Path) -> tuple[str, list[str]]:
    return html_paragraphs(path.read_text(encoding="utf-8", errors="replace"))


def drop_boilerplate(pages: dict[str, list[str]], min_pages: int = 3) -> dict[str, list[str]]:
    """Remove paragraphs that occur on `min_pages` or more pages (menus, footers, "see also" lines), and keep
    a paragraph that two pages share only on the first of them (in key order), so every paragraph of a
    manual is unique."""
    counts: Counter[str] = Counter()
    for paras in pages.values():
        counts.update(set(paras))
    seen: set[str] = set()
    out: dict[str, list[str]] = {}
    for key in sorted(pages):
        kept = []
        for p in pages[key]:
            if counts[p] >= min_pages or (counts[p] > 1 and p in seen):
                continue
            seen.add(p)
            kept.append(p)
        out[key] = kept
    return out


def page_key(root: Path, path: Path) -> str:
    """ "c3ref/open.html" -> "c3ref-open": a slug that stays stable across package point releases."""
    return str(path.relative_to(root).with_suffix("")).replace("/", "-").lower()


def select_pages(root: Path, exclude: Iterable[str]) -> list[Path]:
    """All `*.html` under `root` in sorted order, minus pages whose key matches one of the `exclude`
    regular expressions (indexes, change logs, cross-reference tables)."""
    patterns = [re.compile(p) for p in exclude]
    return [
        path
        for path in sorted(root.rglob("*.html"))
        if not any(p.fullmatch(page_key(root, path)) for p in patterns)
    ]


def manual_documents(source: str, root: Path, exclude: Iterable[str], min_chars: int = 300) -> list[Document]:
    """One document per HTML page of a manual, id "<source>/<page key>", boilerplate removed, pages with
    less than `min_chars` of prose skipped."""
    titles: dict[str, str] = {}
    pages: dict[str, list[str]] = {}
    for path in select_pages(root, exclude):
        key = page_key(root, path)
        titles[key], pages[key] = read_html(path)
    docs = []
    for key, paras in drop_boilerplate(pages).items():
        text = join_paragraphs(paras)
        if len(text) >= min_chars:
            docs.append(Document(f"{source}/{slugify(key)}", titles[key] or key, text))
    return docs
