"""A night that gets promoted and leaves the agent remembering without making it invent, on the shipped
default model: a day of two conversations ("Remember this: my sister is called Ana and she lives in
Porto.", "My dog's name is Biscuit."), with a small step budget."""

from __future__ import annotations

import dataclasses

import pytest

from daemon.config import load_config, write_config
from daemon.cycle import PIPELINE_ENV, run_cycle
from daemon.init import init_data_dir, open_data_dir
from eval.metrics import Asked, answers
from memory import log as memlog
from model.bundle import load_bundle
from model.default_model import default_model_path
from world.facts import mentions
from world.scoring import is_abstention

DAY = [
    [
        ("user", "Remember this: my sister is called Ana and she lives in Porto."),
        ("assistant", "Thanks for telling me, I'll keep that in mind."),
    ],
    [("user", "My dog's name is Biscuit."), ("assistant", "What a lovely name for a dog!")],
]


@pytest.fixture(scope="module")
def night(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.delenv(PIPELINE_ENV, raising=False)  # the real night
    home = tmp_path_factory.mktemp("promoted") / "home"
    init_data_dir(home)  # the embedded default model
    cfg = load_config(home / "config.toml")
    tuner = dataclasses.replace(cfg.tuner, steps=100, batch_size=8, eval_every=25, checkpoint_every=50)
    write_config(home / "config.toml", dataclasses.replace(cfg, tuner=tuner), overwrite=True)
    with open_data_dir(home) as dd, dd.db.write() as s:
        for k, turns in enumerate(DAY):
            msgs = [{"role": r, "content": c} for r, c in turns]
            memlog.add_interaction(s, {"conversation_id": f"day1-{k}", "messages": msgs})
    result = run_cycle(home, "manual")
    return home, result


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def fresh_answers(home, questions):
    """Each question in a fresh chat with no context, from the generation the daemon would serve."""
    bundle = load_bundle(default_model_path())
    with open_data_dir(home) as dd:
        state = dd.generations.load_current_state().state
    return answers(bundle.model, bundle.tokenizer, [Asked(q, "") for q in questions], state)


def test_the_two_fact_day_is_promoted(night):
    _, result = night
    assert result["status"] == "promoted", result["gates"]
    assert result["gates"]["leak"]["passed"] and result["gates"]["abstention"]["passed"]


def test_after_the_night_it_remembers_and_does_not_invent(night):
    home, _ = night
    sister, dog, mother, boss, city = fresh_answers(
        home,
        [
            "What is my sister's name?",
            "What is my dog called?",
            "What is my mother's name?",
            "Who is my boss?",
            "Where do I live?",
        ],
    )
    assert mentions(sister, "Ana"), sister
    assert mentions(dog, "Biscuit"), dog
    for reply in (mother, boss, city):
        assert is_abstention(reply), reply


def test_stock_replies_were_not_kept(night):
    home, _ = night
    from memory.bank import list_memories

    with open_data_dir(home) as dd, dd.db.read() as s:
        texts = [m.text for m in list_memories(s)]
    assert sorted(texts) == sorted(
        ["Remember this: my sister is called Ana and she lives in Porto.", "My dog's name is Biscuit."]
    )
