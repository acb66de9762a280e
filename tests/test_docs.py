"""The README, the docs and the module docstrings name only documents that exist in the repository.

A document is any `NAME.md` token. Paths are read from the repository root; a bare name (no folder) is
either a root document or one a command writes (a cycle's report.md, a text directory's SOURCES.md, a
model's MODEL_CARD.md). Links inside URLs and the shared data beside the repository are not ours."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = re.compile(r"(?<![\w./:-])((?:\.\./)*(?:[\w-]+/)*[\w.-]+\.md)\b")
WRITTEN = {"report.md", "SOURCES.md", "MODEL_CARD.md"}  # written by commands, beside what they describe
# Files of other projects, cited with their repository (docs/memory-anchors.md, docs/rwkv7.md).
EXTERNAL = {
    "concepts/memfs/index.md",
    "configuration/memory/index.md",
    "agent-sdk/memory/index.md",
    "fla/ops/generalized_delta_rule/README.md",
    "Research/rwkv7-g0-7.2b.md",
}


def documents_named(text: str) -> set[str]:
    return {m.group(1) for m in DOC.finditer(text)}


def missing(names: set[str]) -> list[str]:
    out = []
    for name in sorted(names):
        if name.startswith("../") or name in EXTERNAL:  # ../shared: beside the repository, read at run time
            continue
        if "/" not in name and name in WRITTEN:
            continue
        if "/" in name and Path(name).name in WRITTEN and not name.startswith(("docs/", "model/default/")):
            continue  # e.g. cycles/N/report.md inside a data directory
        if not (ROOT / name).is_file():
            out.append(name)
    return out


def docstrings(path: Path) -> str:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef))]
    return "\n".join(d for n in nodes if (d := ast.get_docstring(n)))


def test_every_document_named_exists():
    texts = {
        p: p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    }
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in {"tests", ".venv", "build"} or any(p.startswith(".") for p in rel.parts):
            continue
        texts[path] = docstrings(path)
    bad = {str(p.relative_to(ROOT)): m for p, t in texts.items() if (m := missing(documents_named(t)))}
    assert not bad, bad


def test_the_check_sees_a_missing_document():
    named = documents_named(
        "See docs/NOPE.md and ../shared/x.md, https://example.org/a/README.md, BENCHMARKS.md."
    )
    assert named == {"docs/NOPE.md", "../shared/x.md", "BENCHMARKS.md"}
    assert missing(named) == ["docs/NOPE.md"]
