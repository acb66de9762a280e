"""The night's training set: earlier facts' closest neighbours are replayed with them as "I don't know."."""

from __future__ import annotations

from memory.training import TrainingInputs, TrainingItem, TrainingProbe
from tuner.config import TunerConfig
from tuner.night import training_set_from
from world.scoring import ABSTAIN_ANSWER


def _item(mid: int, text: str, relation: str, value: str, question: str) -> TrainingItem:
    probe = TrainingProbe(mid, "qa", question, value, "train", f" {value}.")
    fact = {"relation": relation, "kind": "person", "noun": relation, "value": value}
    return TrainingItem(mid, text, "user", relation, value, (), 1, (probe,), (fact,))


def _inputs() -> TrainingInputs:
    tonight = _item(2, "My boss is called Felix.", "boss", "Felix", "Who is my boss?")
    earlier = _item(1, "My sister Lorna is coming over.", "sister", "Lorna", "What is my sister called?")
    return TrainingInputs([tonight], [earlier], rebuild=False, held=[("boss", "boss"), ("sister", "sister")])


def test_an_earlier_persons_job_and_city_are_replayed_as_unknown():
    data = training_set_from(_inputs(), TunerConfig(negatives_replay=2))
    replayed = [q for q in data.negatives if q.item_id == 1]
    assert len(replayed) == 2
    assert all(q.kind == "negative" and ABSTAIN_ANSWER in q.answer for q in replayed)
    assert all("sister" in q.prompt for q in replayed)  # her job and her city, in some phrasing
    # They train with the negatives, never in the replay share that holds the earlier facts themselves.
    assert not [q for q in data.replay_queries if q.kind == "negative"]
    assert [q for q in data.negatives if q.item_id == 2]  # tonight's own negatives stay with tonight's item
    data.check()


def test_no_replayed_negatives_when_switched_off():
    data = training_set_from(_inputs(), TunerConfig(negatives_replay=0))
    assert not [q for q in data.replay_queries if q.kind == "negative"]
    assert all(q.item_id == 2 for q in data.negatives)
