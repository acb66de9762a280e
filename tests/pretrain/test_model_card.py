"""The default model's card states its misses: the recall shortfall when there is one, and guessing when
the model names values with no facts in context."""

from __future__ import annotations

import json
from pathlib import Path

from pretrain.model_card import render

DEFAULT = Path(__file__).resolve().parents[2] / "model" / "default"


def _evaluation(recall: float, nc_idk_answerable: float, nc_idk_unanswerable: float) -> dict:
    return {
        "eval_seeds": "0..99",
        "heldout_bits_per_byte": 2.5,
        "in_context": {
            "accuracy": recall,
            "abstained_on_answerable": 0.1,
            "wrong_value": 0.9 - recall,
            "abstention_accuracy": 0.9,
            "items": 500,
            "abstention_items": 100,
        },
        "no_context": {
            "accuracy": 0.0,
            "abstained_on_answerable": nc_idk_answerable,
            "wrong_value": 1.0 - nc_idk_answerable,
            "abstention_accuracy": nc_idk_unanswerable,
            "items": 500,
            "abstention_items": 100,
        },
    }


def test_card_marks_the_targets_and_states_a_recall_shortfall() -> None:
    training = json.loads((DEFAULT / "training.json").read_text())
    short = render(training, _evaluation(0.7, 0.95, 0.95))
    assert "below the 85% target" in short and "(**not met**)" in short
    met = render(training, _evaluation(0.86, 0.95, 0.95))
    assert "below the 85% target" not in met and "| >= 0.85 (met) |" in met


def test_card_states_guessing_without_context() -> None:
    training = json.loads((DEFAULT / "training.json").read_text())
    # 0.4 of 500 and 0.5 of 100 abstain: 250 of 600 questions.
    card = render(training, _evaluation(0.86, 0.4, 0.5))
    assert "| 0.417 (600 questions) |" in card
    assert 'says "I don\'t know." to 42% of the questions' in card
    careful = render(training, _evaluation(0.86, 0.95, 0.95))
    assert "names a value for the rest" not in careful


def test_by_relation_groups_every_question(capsys) -> None:
    from pretrain.model_card import main
    from world.pretrain_data import incontext_eval_items

    assert main([str(DEFAULT), "--by-relation", "--seeds", "3"]) == 0
    groups = json.loads(capsys.readouterr().out)
    items = incontext_eval_items(range(3))
    assert set(groups) == {i.relation for i in items}
    assert sum(g["items"] + g["abstention_items"] for g in groups.values()) == len(items)
    assert all(0.0 <= g["accuracy"] <= 1.0 for g in groups.values())


def test_card_cli_rejects_a_directory_without_a_model(tmp_path, capsys) -> None:
    from pretrain.model_card import main

    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
