"""Plain-text cleaning shared by the extractors: normalisation, unwrapping hard-wrapped prose into paragraphs,
cutting books into chapter-sized documents.

Output convention for every document: paragraphs separated by exactly one blank line; inside a paragraph
prose is a single line, verse keeps one line per verse line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_EMPHASIS_RE = re.compile(r"(?<![\w_])_(?=\S)([^_\n]{1,200}?)(?<=\S)_(?![\w_])")
_SPACES_RE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFC, Unix newlines, tabs as spaces, control characters removed, trailing spaces stripped."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text.replace("\t", "    ").replace("\f", "\n"))
    return "\n".join(line.rstrip() for line in text.split("\n"))


def collapse_spaces(text: str) -> str:
    return _SPACES_RE.sub(" ", text).strip()


def strip_emphasis(text: str) -> str:
    """`_word_` (the plain-text italics convention of old e-texts) -> `word`."""
    return _EMPHASIS_RE.sub(r"\1", text)


def blocks(text: str) -> list[list[str]]:
    """Runs of non-blank lines (raw, indentation kept)."""
    out: list[list[str]] = []
    cur: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            cur.append(line)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _looks_like_verse(lines: list[str]) -> bool:
    # A poem, letter heading or address quoted inside prose: every line indented, or several lines that
    # are all much shorter than the wrap width.
    if len(lines) < 2:
        return False
    if all(_indent(line) >= 2 for line in lines) and max(len(line.strip()) for line in lines) < 66:
        return True
    return len(lines) >= 3 and max(len(line.rstrip()) for line in lines) < 48


def unwrap_block(lines: list[str], verse: bool = False) -> list[str]:
    """Paragraphs of one blank-line-separated block.

    Prose lines are joined with single spaces. A line indented by 2+ spaces starts a new paragraph (the
    paragraph-indent convention), a line indented by 20+ spaces (a right-aligned signature) stands alone.
    Verse (given, or detected) keeps its line breaks, indentation dropped.
    """
    if verse or _looks_like_verse(lines):
        return ["\n".join(collapse_spaces(line) for line in lines)]
    paras: list[str] = []
    cur: list[str] = []

    def flush() -> None:
        if cur:
            paras.append(collapse_spaces(" ".join(cur)))
            cur.clear()

    for line in lines:
        ind = _indent(line)
        if ind >= 20:
            flush()
            paras.append(collapse_spaces(line))
            continue
        if ind >= 2 and cur:
            flush()
        cur.append(line.strip())
    flush()
    return paras


def paragraphs(text: str, verse: bool = False) -> list[str]:
    """Hard-wrapped plain text -> list of paragraphs."""
    out: list[str] = []
    for block in blocks(text):
        out.extend(unwrap_block(block, verse=verse))
    return [p for p in out if p]


def join_paragraphs(paras: Iterable[str]) -> str:
    return "\n\n".join(p.strip("\n") for p in paras if p.strip())


def alpha_fraction(text: str) -> float:
    return sum(c.isalpha() for c in text) / max(len(text), 1)


def is_prose(text: str, min_chars: int = 40, min_alpha: float = 0.6) -> bool:
    """A paragraph worth keeping from technical documents: long enough, mostly letters, has spaces."""
    return len(text) >= min_chars and " " in text and alpha_fraction(text) >= min_alpha


def split_sections(paras: list[str], is_heading: Callable[[str], bool]) -> list[list[str]]:
    """Cut a book's paragraphs before every heading paragraph. Leading material forms its own section."""
    sections: list[list[str]] = []
    cur: list[str] = []
    for p in paras:
        if is_heading(p) and cur:
            sections.append(cur)
            cur = []
        cur.append(p)
    if cur:
        sections.append(cur)
    return sections


def _size(paras: list[str]) -> int:
    return sum(len(p) + 2 for p in paras)


def merge_small(sections: list[list[str]], min_chars: int) -> list[list[str]]:
    """Join each section shorter than `min_chars` to the next one (a part title, a dedication, a poem),
    and a short last section to the one before."""
    out: list[list[str]] = []
    pending: list[str] = []
    for sec in sections:
        pending = pending + sec
        if _size(pending) >= min_chars:
            out.append(pending)
            pending = []
    if pending:
        if out:
            out[-1] = out[-1] + pending
        else:
            out.append(pending)
    return out


def split_large(paras: list[str], max_chars: int) -> list[list[str]]:
    """Cut a long section at paragraph boundaries into nearly equal pieces of at most ~`max_chars`."""
    total = _size(paras)
    if total <= max_chars:
        return [paras]
    # A verse paragraph can be a whole book (Paradise Lost has no stanza breaks): cut it at line ends.
    paras = [piece for p in paras for piece in _split_lines(p, max_chars // 4)]
    pieces = -(-total // max_chars)
    target = total / pieces
    out: list[list[str]] = []
    cur: list[str] = []
    for p in paras:
        cur.append(p)
        if _size(cur) >= target and len(out) < pieces - 1:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _split_lines(paragraph: str, limit: int) -> list[str]:
    if len(paragraph) <= limit or "\n" not in paragraph:
        return [paragraph]
    out: list[str] = []
    cur: list[str] = []
    size = 0
    for line in paragraph.split("\n"):
        if cur and size + len(line) + 1 > limit:
            out.append("\n".join(cur))
            cur, size = [], 0
        cur.append(line)
        size += len(line) + 1
    if cur:
        out.append("\n".join(cur))
    return out
