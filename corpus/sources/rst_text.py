"""reStructuredText (Sphinx `_sources/*.rst.txt`, as shipped by python3.11-doc) -> prose paragraphs.

Drops what is not running prose: literal blocks (after `::`), code/doctest/table/toctree and other
directives with their bodies, `>>>` sessions, tables, heading underlines, comments. Inline markup is
reduced to its text: `:func:`open``, ``` ``x`` ```, `` `text <url>`_ ``, `*emphasis*`, `**strong**`.
Headings are kept as short paragraphs. Bullet and enumerated list items become paragraphs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from corpus.sources.document import Document, slugify
from corpus.sources.html_text import drop_boilerplate
from corpus.sources.textclean import collapse_spaces, is_prose, join_paragraphs, normalize

_ROLE_RE = re.compile(r":[\w-]+(?::[\w-]+)?:`!?~?([^`<]*?)\s*(?:<[^`>]*>)?`")
_LITERAL_RE = re.compile(r"``(.+?)``")
_LINK_RE = re.compile(r"`([^`<]*?)\s*(?:<[^`>]*>)?`__?")
_STRONG_RE = re.compile(r"\*\*(\S(?:.*?\S)?)\*\*")
_EMPH_RE = re.compile(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])")
_ADORNMENT_RE = re.compile(r"([=\-~^*#+\"`':._])\1{2,}")
_TABLE_RE = re.compile(r"[+|]|=+( +=+)+")
_BULLET_RE = re.compile(r"(?:[-*+]|#\.|\d+\.|\(?[a-z0-9]\))\s+")
# Directives whose body is prose we keep (admonitions, version notes); every other directive is dropped
# with its indented body (code, tables, toctrees, autodoc signatures, ...).
_PROSE_DIRECTIVES = {
    "note", "warning", "seealso", "tip", "important", "caution", "attention", "hint", "admonition",
    "versionadded", "versionchanged", "deprecated", "impl-detail", "topic", "sidebar", "rubric",
    "describe", "function", "method", "class", "attribute", "data", "exception", "decorator",
    "module", "currentmodule", "index", "glossary", "option", "envvar", "opcode", "cmdoption",
    "coroutinefunction", "coroutinemethod", "classmethod", "staticmethod", "abstractmethod",
    "decoratormethod", "pdbcommand", "program", "availability",
}  # fmt: skip
_DIRECTIVE_RE = re.compile(r"\.\.\s+([\w:-]+)::(.*)")
_FIELD_RE = re.compile(r":[\w -]+:(\s|$)")


def inline_text(text: str) -> str:
    text = _ROLE_RE.sub(r"\1", text)
    text = _LITERAL_RE.sub(r"\1", text)
    text = _LINK_RE.sub(r"\1", text)
    text = _STRONG_RE.sub(r"\1", text)
    text = _EMPH_RE.sub(r"\1", text)
    return collapse_spaces(text.replace("\\", ""))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def rst_paragraphs(text: str) -> list[str]:
    """Prose paragraphs (and headings) of one reST document."""
    lines = text.replace("\t", "    ").split("\n")
    out: list[str] = []
    para: list[str] = []
    skip_deeper_than: int | None = None  # skipping an indented body: lines indented more than this

    def flush() -> None:
        if para:
            t = inline_text(" ".join(para))
            para.clear()
            if is_prose(t) or (len(t) >= 3 and heading_next):
                out.append(t)

    heading_next = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        ind = _indent(line)
        if skip_deeper_than is not None:
            if not stripped or ind > skip_deeper_than:
                continue
            skip_deeper_than = None
        if not stripped:
            flush()
            continue
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _ADORNMENT_RE.fullmatch(stripped):
            # An over- or underline: the paragraph collected so far is a heading.
            heading_next = True
            flush()
            heading_next = False
            continue
        directive = _DIRECTIVE_RE.match(stripped)
        if stripped.startswith(".."):
            flush()
            if directive and directive.group(1).split(":")[-1] in _PROSE_DIRECTIVES:
                rest = directive.group(2).strip()
                if rest and directive.group(1) in ("note", "warning", "seealso", "deprecated", "topic"):
                    para.append(rest)
                continue  # the indented body is ordinary text and is read normally
            skip_deeper_than = ind  # comments, targets, substitutions, code, tables, toctrees ...
            continue
        if _FIELD_RE.match(stripped) and not para:
            continue  # directive options and field lists (":synopsis: ...", ":param x: ...")
        if stripped.startswith((">>>", "...")) or (_TABLE_RE.match(stripped) and not stripped[0].isalnum()):
            flush()
            continue
        if _BULLET_RE.match(stripped) and para:
            flush()
        if _ADORNMENT_RE.fullmatch(nxt) and len(nxt) >= len(stripped) - 1:
            flush()
        stripped = _BULLET_RE.sub("", stripped, count=1) if _BULLET_RE.match(stripped) else stripped
        if stripped.endswith("::"):
            # "Paragraph text::" introduces a literal block: keep "text:" and skip the block.
            para.append(stripped[:-1] if not stripped.endswith(" ::") else stripped[:-3])
            flush()
            skip_deeper_than = ind
            continue
        para.append(stripped)
    flush()
    return out


def rst_manual_documents(
    source: str, root: Path, exclude: Iterable[str], min_chars: int = 300
) -> list[Document]:
    """One document per `*.rst.txt` page under `root` (id "<source>/<path with - for />"), minus pages whose
    key fully matches an `exclude` regular expression; paragraphs shared by several pages kept once."""
    patterns = [re.compile(p) for p in exclude]
    pages: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.rst.txt")):
        key = str(path.relative_to(root)).removesuffix(".rst.txt").replace("/", "-").lower()
        if not any(p.fullmatch(key) for p in patterns):
            pages[key] = rst_paragraphs(normalize(path.read_text(encoding="utf-8", errors="replace")))
    docs = []
    for key, paras in drop_boilerplate(pages).items():
        text = join_paragraphs(paras)
        if len(text) >= min_chars:
            title = paras[0] if paras else key
            docs.append(Document(f"{source}/{slugify(key)}", title, text))
    return docs
