"""The LoCoMo benchmark must not read the QA when choosing: reflection's output is the same whether the
conversation file has its QA, has none, or has scrambled QA."""

from __future__ import annotations

import json
import random

import pytest

from memory import log as memlog
from memory.db import Database, migrate
from reflection import locomo
from reflection.pipeline import run_reflection

SESSIONS = 2  # a slice of the conversation keeps the test fast


def _variants(raw: dict) -> dict[str, dict]:
    keep = {k: v for k, v in raw.items() if not k.startswith("session_") or int(k.split("_")[1]) <= SESSIONS}
    no_qa = {k: v for k, v in keep.items() if k != "qa"}
    rng = random.Random(0)
    scrambled = dict(keep)
    scrambled["qa"] = [
        {
            **q,
            "answer": "banana",
            "evidence": rng.sample([f"D{s}:{t}" for s in range(1, 4) for t in range(1, 9)], 3),
        }
        for q in keep["qa"]
    ]
    return {"qa": keep, "no_qa": no_qa, "scrambled_qa": scrambled}


def _reflect(path, tmp_path, name, bundle, embedder) -> tuple[dict, list]:
    conv, qa = locomo.load_conversation(path)
    db_path = tmp_path / f"{name}.db"
    migrate(db_path)
    db = Database(db_path)
    try:
        with db.write() as s:
            memlog.import_conversations(s, [(1, memlog.parse_conversation(conv))], source="import")
        res = run_reflection(db, bundle, None, since_watermark=0, embedder=embedder)
    finally:
        db.dispose()
    return res.as_dry_run_json(), qa


def test_reflection_output_does_not_depend_on_the_qa(tmp_path, tiny_bundle, embedder):
    paths = locomo.conversation_paths()
    if not paths:
        pytest.skip("LoCoMo data not available under ../shared/data/locomo")
    raw = json.loads(paths[0].read_text(encoding="utf-8"))
    outputs, qas = {}, {}
    for name, variant in _variants(raw).items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(variant), encoding="utf-8")
        outputs[name], qas[name] = _reflect(path, tmp_path, name, tiny_bundle, embedder)
    assert qas["qa"] and qas["no_qa"] == [] and qas["scrambled_qa"] != qas["qa"]  # the inputs really differ
    assert outputs["qa"]["kept"]  # and the selection is not empty
    assert outputs["qa"] == outputs["no_qa"] == outputs["scrambled_qa"]
