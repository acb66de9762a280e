"""The unit every extractor produces: one document with a stable id."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")


def slugify(text: str) -> str:
    """Lower-case, filename-safe form of `text` ([a-z0-9._-], no leading dot or dash)."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")
    return slug or "x"


@dataclass(frozen=True)
class Document:
    """A training or evaluation document.

    `id` is "<source>/<slug>" and never changes for the same package version; the held-out suite lists
    ids, so the training loader can exclude held-out documents by identity. `text` is cleaned plain text:
    paragraphs separated by one blank line, verse lines kept, no trailing whitespace.
    """

    id: str
    title: str
    text: str

    def __post_init__(self) -> None:
        source, _, slug = self.id.partition("/")
        if not (_SLUG_RE.fullmatch(source) and _SLUG_RE.fullmatch(slug)):
            raise ValueError(f"bad document id {self.id!r}: want '<source>/<slug>' with [a-z0-9._-]")

    @property
    def source(self) -> str:
        return self.id.partition("/")[0]

    @property
    def slug(self) -> str:
        return self.id.partition("/")[2]
