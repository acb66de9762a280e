"""Imports point one way (docs/ARCHITECTURE.md):

    kernels <- model <- {memory, world, corpus} <- {reflection, tuner, eval} <- {daemon, pretrain}

reflection, tuner and eval never import one another: what they share sits below them (the persona world,
the corpus, the memory bank). Nothing imports daemon or pretrain (the service and the default model's
recipe are the top). Every import counts, including those inside functions. A new top-level package must
be placed in LAYERS explicitly, or this test fails."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BELOW_MODEL = {"kernels", "model"}
BELOW_NIGHT = BELOW_MODEL | {"memory", "world", "corpus"}
LAYERS: dict[str, set[str]] = {
    "kernels": set(),
    "model": {"kernels"},
    "memory": BELOW_MODEL,
    "world": BELOW_MODEL,
    "corpus": BELOW_MODEL,
    "reflection": BELOW_NIGHT,
    "tuner": BELOW_NIGHT,
    "eval": BELOW_NIGHT,
    "pretrain": BELOW_NIGHT | {"eval"},
    "daemon": BELOW_NIGHT | {"reflection", "tuner", "eval"},
}
NOT_PACKAGES = {"tests", "bench", "docs"}  # scripts and tests may import anything


def our_packages(repo: Path = REPO) -> set[str]:
    return {
        p.name
        for p in repo.iterdir()
        if p.is_dir() and (p / "__init__.py").is_file() and p.name not in NOT_PACKAGES
    }


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def violations(repo: Path = REPO) -> list[str]:
    ours = our_packages(repo)
    out = []
    for package in sorted(ours):
        allowed = LAYERS.get(package)
        if allowed is None:
            out.append(f"{package}/ is not placed in a layer")
            continue
        for path in sorted((repo / package).rglob("*.py")):
            for target in sorted(imports_of(path) & ours - {package}):
                if target not in allowed:
                    out.append(f"{path.relative_to(repo)} imports {target}")
    return out


def test_every_package_is_placed_and_imports_point_one_way():
    assert our_packages() == set(LAYERS)
    assert violations() == []


def test_the_checker_sees_an_edge_against_the_direction(tmp_path):
    for package in ("model", "eval"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "model" / "late.py").write_text("def f():\n    from eval.gates import GateConfig\n")
    assert violations(tmp_path) == ["model/late.py imports eval"]
