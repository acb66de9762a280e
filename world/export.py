"""Writing a world to disk, and reading its questions back.

Layout of `export_world(world, out_dir)` (all files written atomically, byte-identical for equal worlds):

    conversations.jsonl     every conversation, one import-format line each (docs/ARCHITECTURE.md)
    days/day_001.jsonl      the same lines, one file per day (for day-by-day import in the demo)
    questions.json          ground truth: questions of every kind, in-conversation recall checks
    world.json              seed, config, never-revealed relations, reveal/update events, statistics

Ground truth stays out of the JSONL: conversation metadata holds only where the conversation came from,
so nothing that imports the conversations can read the answers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

from model.fileio import atomic_write_text
from world.scoring import ABSTAIN_ANSWER
from world.simulate import Conversation, Question, World, world_stats

FORMAT = "sleepd-world/1"
_ROLES = {"user", "assistant", "system"}


def conversation_record(conv: Conversation, seed: int) -> dict[str, Any]:
    """One conversation as an import-format object."""
    return {
        "conversation_id": conv.id,
        "messages": [
            {"id": m.id, "role": m.role, "content": m.content, "created_at": m.created_at}
            for m in conv.messages
        ],
        "metadata": {"source": "world", "world_seed": seed, "day": conv.day},
    }


def question_record(q: Question) -> dict[str, Any]:
    record = dataclasses.asdict(q)
    record["wrong_answers"] = list(q.wrong_answers)
    record["context"] = [dict(m) for m in q.context]
    return record


def question_from_record(record: dict[str, Any]) -> Question:
    fields = {f.name for f in dataclasses.fields(Question)}
    unknown = set(record) - fields
    if unknown:
        raise ValueError(f"unknown question fields: {sorted(unknown)}")
    values = dict(record)
    values["wrong_answers"] = tuple(values.get("wrong_answers", ()))
    values["context"] = tuple(dict(m) for m in values.get("context", ()))
    return Question(**values)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def _jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)


def export_world(world: World, out_dir: str | Path) -> dict[str, Path]:
    """Write the world's files under `out_dir` (created if missing). Returns {name: path}."""
    out = Path(out_dir)
    (out / "days").mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def put(name: str, relpath: str, text: str) -> None:
        written[name] = out / relpath
        atomic_write_text(out / relpath, text)

    all_records = []
    for day in world.days:
        records = [conversation_record(c, world.seed) for c in day.conversations]
        all_records += records
        put(f"day_{day.day:03d}", f"days/day_{day.day:03d}.jsonl", _jsonl(records))
    put("conversations", "conversations.jsonl", _jsonl(all_records))

    questions = {
        "format": FORMAT,
        "seed": world.seed,
        "days": len(world.days),
        "abstain_answer": ABSTAIN_ANSWER,
        "questions": [question_record(q) for q in world.questions],
        "in_conversation_recall": [dataclasses.asdict(r) for r in world.recall_checks],
    }
    put("questions", "questions.json", _dumps(questions))

    meta = {
        "format": FORMAT,
        "seed": world.seed,
        "world_id": world.id,
        "config": dataclasses.asdict(world.config),
        "never_revealed": list(world.never_revealed),
        "days": [
            {"day": d.day, "date": d.date, "conversations": [c.id for c in d.conversations]}
            for d in world.days
        ],
        "events": [
            {
                "day": e.day,
                "type": e.type,
                "relation": e.relation,
                "fact_id": e.fact.id,
                "value": e.fact.value,
                "previous_fact_id": e.previous.id if e.previous else None,
                "previous_value": e.previous.value if e.previous else None,
                "conversation_id": e.conversation_id,
                "message_id": e.message_id,
                "template_id": e.template_id,
                "template_split": e.template_split,
            }
            for e in world.events
        ],
        "stats": world_stats(world),
    }
    put("world", "world.json", _dumps(meta))
    return written


def load_questions(path: str | Path) -> list[Question]:
    """Questions from a `questions.json` written by `export_world`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} questions file")
    return [question_from_record(r) for r in data["questions"]]


def validate_import_record(obj: Any) -> None:
    """Raise ValueError unless `obj` is one import-format line (docs/ARCHITECTURE.md, "Import format")."""
    if not isinstance(obj, dict):
        raise ValueError("record must be a JSON object")
    unknown = set(obj) - {"conversation_id", "messages", "metadata"}
    if unknown:
        raise ValueError(f"unknown keys: {sorted(unknown)}")
    if not isinstance(obj.get("conversation_id"), str) or not obj["conversation_id"]:
        raise ValueError("conversation_id must be a non-empty string")
    if "metadata" in obj and not isinstance(obj["metadata"], dict):
        raise ValueError("metadata must be an object")
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise ValueError(f"message {i}: must be an object")
        extra = set(m) - {"id", "role", "content", "name", "created_at"}
        if extra:
            raise ValueError(f"message {i}: unknown keys {sorted(extra)}")
        if m.get("role") not in _ROLES:
            raise ValueError(f"message {i}: role must be one of {sorted(_ROLES)}")
        if not isinstance(m.get("content"), str):
            raise ValueError(f"message {i}: content must be a string")
        for key in ("id", "name", "created_at"):
            if key in m and not isinstance(m[key], str):
                raise ValueError(f"message {i}: {key} must be a string")
        if "created_at" in m:
            try:
                dt.datetime.fromisoformat(m["created_at"].replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"message {i}: created_at is not ISO-8601: {m['created_at']!r}") from None
