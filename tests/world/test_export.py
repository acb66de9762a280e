"""Exporting a persona world: byte-identical files, import format, CLI."""

from __future__ import annotations

import json

import pytest

from world import export_world, load_questions, simulate_world, validate_import_record
from world.__main__ import main


@pytest.fixture(scope="module")
def world():
    return simulate_world(5, days=4)


def _read_all(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_export_is_byte_identical_for_the_same_seed(tmp_path, world):
    export_world(world, tmp_path / "a")
    export_world(simulate_world(5, days=4), tmp_path / "b")
    a, b = _read_all(tmp_path / "a"), _read_all(tmp_path / "b")
    assert set(a) == {"conversations.jsonl", "questions.json", "world.json"} | {
        f"days/day_{d:03d}.jsonl" for d in range(1, 5)
    }
    assert a == b
    export_world(simulate_world(6, days=4), tmp_path / "c")
    assert _read_all(tmp_path / "c")["conversations.jsonl"] != a["conversations.jsonl"]
    assert not [p for p in (tmp_path / "a").rglob("*") if ".tmp" in p.name]


def test_jsonl_follows_the_import_format(tmp_path, world):
    paths = export_world(world, tmp_path)
    lines = paths["conversations"].read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(world.conversations)
    ids = []
    for line in lines:
        record = json.loads(line)
        validate_import_record(record)
        assert set(record) == {"conversation_id", "messages", "metadata"}
        assert set(record["metadata"]) == {"source", "world_seed", "day"}  # no ground truth in the import
        for m in record["messages"]:
            assert set(m) == {"id", "role", "content", "created_at"} and m["role"] in ("user", "assistant")
            ids.append(m["id"])
    assert len(ids) == len(set(ids))
    per_day = "".join(paths[f"day_{d:03d}"].read_text(encoding="utf-8") for d in range(1, 5))
    assert per_day == paths["conversations"].read_text(encoding="utf-8")


def test_questions_round_trip(tmp_path, world):
    paths = export_world(world, tmp_path)
    assert load_questions(paths["questions"]) == list(world.questions)
    data = json.loads(paths["questions"].read_text(encoding="utf-8"))
    q = data["questions"][0]
    for key in (
        "day",
        "kind",
        "question",
        "answer",
        "wrong_answers",
        "relation",
        "fact_id",
        "template_split",
    ):
        assert key in q
    assert data["in_conversation_recall"] or not world.recall_checks
    meta = json.loads(paths["world"].read_text(encoding="utf-8"))
    assert len(meta["events"]) == len(world.events) and meta["seed"] == 5


@pytest.mark.parametrize(
    "record",
    [
        [],
        {"messages": [{"role": "user", "content": "hi"}]},
        {"conversation_id": "c", "messages": []},
        {"conversation_id": "c", "messages": [{"role": "robot", "content": "hi"}]},
        {"conversation_id": "c", "messages": [{"role": "user", "content": 3}]},
        {"conversation_id": "c", "messages": [{"role": "user", "content": "x", "created_at": "yesterday"}]},
        {"conversation_id": "c", "messages": [{"role": "user", "content": "x"}], "extra": 1},
    ],
)
def test_validator_rejects_bad_records(record):
    with pytest.raises(ValueError):
        validate_import_record(record)


def test_cli_writes_a_world_and_rejects_bad_seeds(tmp_path, capsys):
    assert main(["--seed", "2", "--days", "3", "--out", str(tmp_path / "w")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["days"] == 3 and (tmp_path / "w" / "questions.json").exists()
    assert main(["--seed", "5000", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
