"""General English text for pretraining the default model and for the general gate's held-out suite.

PROVISIONAL SOURCE (to be replaced): docstrings of the Python standard library of the running
interpreter (PSF licence). Documents are yielded in a seeded order.
"""

from __future__ import annotations

import ast
import random
import sysconfig
from collections.abc import Iterator
from functools import cache
from pathlib import Path


@cache
def _docstrings() -> tuple[str, ...]:
    root = Path(sysconfig.get_paths()["stdlib"])
    docs: list[str] = []
    for path in sorted(root.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 200:
                    docs.append(doc)
    return tuple(docs)


def _split() -> tuple[tuple[str, ...], tuple[str, ...]]:
    docs = _docstrings()
    heldout = tuple(d for i, d in enumerate(docs) if i % 20 == 0)
    train = tuple(d for i, d in enumerate(docs) if i % 20 != 0)
    return train, heldout


def general_documents(rng: random.Random) -> Iterator[str]:
    train, _ = _split()
    order = list(range(len(train)))
    while True:
        rng.shuffle(order)
        for i in order:
            yield train[i]


def heldout_general_text(max_chars: int) -> str:
    _, heldout = _split()
    return "\n\n".join(heldout)[:max_chars]
