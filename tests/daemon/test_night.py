"""The real sleep cycle end to end: reflect on logged chats, tune the state, run every gate, create a
candidate generation, promote or reject it, and write the report (the embedded default model, a small
step budget). Also: a night with nothing new is skipped, a forget makes the next night a rebuild that never
sees the item, and a model that cannot say any kept value from context (the tiny test fixture) skips the
night with the reason, the memories kept and marked not learnable."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from daemon.config import load_config, write_config
from daemon.cycle import PIPELINE_ENV, RESULT_KEYS, run_cycle
from daemon.init import init_data_dir, open_data_dir
from memory import log as memlog
from memory.bank import list_memories
from memory.forget import forget_memory
from memory.training import training_set
from tuner.night import training_set_from

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "tiny-rwkv7" / "model.safetensors"
GATES = {"general", "retention", "acquisition", "abstention", "leak", "context_override", "sanity"}

DAY1 = [
    ("user", "Hi! Quick thing about me: my sister is called Ana."),
    ("assistant", "Nice to meet Ana, at least by name."),
    ("user", "I live in Oslo, by the way, and I work at Northwind Logistics."),
    ("assistant", "Good to know."),
    ("user", "What's a good name for a sourdough starter?"),
    ("assistant", "Something like Clint Yeastwood."),
    ("user", "My api key is sk-proj-Zk3vQ9mN2pL8xR4tW7yB1cD6eF0gH5jK please keep it safe."),
    ("assistant", "I won't repeat it."),
]


def small_home(tmp_path, model_path=None) -> Path:
    d = tmp_path / "home"
    init_data_dir(d, model_path=model_path)
    cfg = load_config(d / "config.toml")
    tuner = dataclasses.replace(cfg.tuner, steps=24, eval_every=8, checkpoint_every=8, batch_size=8)
    write_config(d / "config.toml", dataclasses.replace(cfg, tuner=tuner), overwrite=True)
    return d


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.delenv(PIPELINE_ENV, raising=False)  # this file runs the real night
    return small_home(tmp_path)


def log_day(home: Path, cid: str, turns) -> None:
    msgs = [{"role": r, "content": c} for r, c in turns]
    with open_data_dir(home) as dd, dd.db.write() as s:
        memlog.add_interaction(s, {"conversation_id": cid, "messages": msgs})


def test_a_night_reflects_tunes_gates_and_decides(home):
    log_day(home, "day1", DAY1)
    result = run_cycle(home, "manual")
    assert list(result) == list(RESULT_KEYS)
    assert result["status"] in ("promoted", "rejected"), result
    assert result["kept"] >= 1 and result["generation_id"] is not None
    assert set(result["gates"]) == GATES
    for g in result["gates"].values():
        assert {"value", "threshold", "passed"} <= set(g)
    report = Path(result["report"])
    assert report.is_file() and report.with_suffix(".html").is_file()
    assert "## Gates" in report.read_text()

    with open_data_dir(home) as dd:
        gen = dd.generations.show(result["generation_id"])
        manifest = dd.generations.read_manifest(result["generation_id"])
        assert manifest["tuner"]["steps"] == 24 and manifest["cycle_id"] == result["cycle_id"]
        assert json.dumps(manifest).find("sk-proj-") < 0  # no secret in the manifest
        current = dd.generations.read_eval(result["generation_id"])
        assert set(current["gates"]) == GATES
        with dd.db.read() as s:
            texts = [m.text for m in list_memories(s)]
        assert texts and not any("sk-proj-" in t for t in texts)
        cycle_dir = dd.paths.cycle_dir(result["cycle_id"])
        assert "sk-proj-Zk3v" not in (cycle_dir / "tune" / "tune.log").read_text()
    assert gen is not None

    again = run_cycle(home, "manual")  # nothing new since the watermark
    assert again["status"] == "skipped" and again["generation_id"] is None


def test_a_forgotten_item_never_reaches_the_next_night(home):
    log_day(home, "day1", DAY1[:4])
    first = run_cycle(home, "manual")
    assert first["kept"] >= 1
    with open_data_dir(home) as dd:
        with dd.db.read() as s:
            victim = next(m for m in list_memories(s) if "Ana" in m.text)
        with dd.db.write() as s:
            forget_memory(s, victim.id, actor="test", reason="user asked")
    log_day(home, "day2", [("user", "My dog is called Biscuit."), ("assistant", "Cute name!")])
    second = run_cycle(home, "manual")
    assert second["status"] in ("promoted", "rejected"), Path(second["report"]).read_text()
    with open_data_dir(home) as dd, dd.db.read() as s:
        from memory import cycles

        c = cycles.get_cycle(s, second["cycle_id"])
        assert c.result["rebuild"] is True
        inputs = training_set(s, second["cycle_id"], rebuild=True)
        data = training_set_from(inputs, load_config(home / "config.toml").tuner)
    assert inputs.rebuild
    assert not any(victim.text in t for t in data.all_texts())
    assert all(m.id != victim.id for m in data.items + data.replay_items)


def test_a_model_that_cannot_say_the_values_skips_the_night_and_keeps_them(tmp_path, monkeypatch):
    monkeypatch.delenv(PIPELINE_ENV, raising=False)
    home = small_home(tmp_path, FIXTURE)  # random-ish tiny model: its teacher never says a kept value
    log_day(home, "day1", DAY1[:4])
    result = run_cycle(home, "manual")
    assert result["status"] == "skipped" and result["generation_id"] is None
    assert "not learnable by this model" in Path(result["report"]).read_text()
    with open_data_dir(home) as dd, dd.db.read() as s:
        mems = list_memories(s)
    assert mems and all(m.learnable is False and "not learnable" in m.learn_note for m in mems)
