"""LoCoMo harness: loading, evidence parsing, recall, baselines, and selection blind to the QA.

Most tests use a tiny made-up conversation in LoCoMo's shape. The ones marked `real data` read
../shared/data/locomo at run time and skip when it is absent (the data is CC BY-NC and never copied here).
"""

from __future__ import annotations

import copy
import json

import pytest

from reflection import locomo as L
from reflection.segments import whitespace_tokens

FAKE = {
    "speaker_a": "Ana",
    "speaker_b": "Bo",
    "session_2_date_time": "10:00 am on 3 June, 2023",
    "session_2": [
        {"speaker": "Ana", "dia_id": "D2:1", "text": "Guess what, I adopted a puppy called Luna yesterday!"},
        {"speaker": "Bo", "dia_id": "D2:2", "text": "Aww, congrats!"},
    ],
    "session_10_date_time": "8:15 pm on 1 July, 2023",
    "session_10": [
        {"speaker": "Bo", "dia_id": "D10:1", "text": "Hey Ana! How is Luna?"},
        {
            "speaker": "Ana",
            "dia_id": "D10:2",
            "text": "She is great, look at her!",
            "img_url": ["http://example.invalid/x.jpg"],
            "blip_caption": "a photo of a puppy on a red blanket",
            "query": "puppy blanket",
        },
        {"speaker": "Bo", "dia_id": "D10:3", "text": "So cute. I started a new job at Acme Corp last week."},
    ],
    "session_1_date_time": "1:56 pm on 8 May, 2023",
    "session_1": [
        {"speaker": "Ana", "dia_id": "D1:1", "text": "Hi Bo! I moved to Lisbon last month."},
        {"speaker": "Bo", "dia_id": "D1:2", "text": "Wow, nice! How do you like it?"},
    ],
    "qa": [
        {"question": "What is the puppy called?", "answer": "Luna", "evidence": ["D2:1"], "category": 4},
        {"question": "Where does Ana live?", "answer": "Lisbon", "evidence": ["D1:1; D10:2"], "category": 1},
        {
            "question": "When did Ana adopt?",
            "answer": "2 June 2023",
            "evidence": ["D:2:1", "D"],
            "category": 2,
        },
        {"question": "Where does Bo work?", "answer": "Acme", "evidence": ["d10 : 3"], "category": 3},
        {"question": "What is Bo's cat?", "adversarial_answer": "Tom", "evidence": ["D1:2"], "category": 5},
    ],
}


@pytest.fixture
def fake_path(tmp_path):
    path = tmp_path / "conv-99.json"
    path.write_text(json.dumps(FAKE))
    return path


def test_load_conversation_import_format(fake_path):
    conv, qa = L.load_conversation(fake_path)
    assert conv["conversation_id"] == "conv-99"
    ids = [m["id"] for m in conv["messages"]]
    assert ids == ["D1:1", "D1:2", "D2:1", "D2:2", "D10:1", "D10:2", "D10:3"]  # sessions in numeric order
    assert {m["role"] for m in conv["messages"]} == {"user"}
    assert [m["name"] for m in conv["messages"]][:2] == ["Ana", "Bo"]
    photo = conv["messages"][5]
    assert (
        photo["content"] == "She is great, look at her! [shares a photo: a photo of a puppy on a red blanket]"
    )
    assert conv["messages"][0]["created_at"] == "2023-05-08T13:56:00"
    assert conv["messages"][-1]["created_at"] == "2023-07-01T20:15:00"
    assert conv["metadata"]["speaker_a"] == "Ana" and conv["metadata"]["sessions"] == 3
    assert len(qa) == 5 and "qa" not in conv
    # One line of the import format: JSON-serialisable, messages with the documented keys only.
    json.dumps(conv)
    assert all(set(m) <= {"id", "role", "content", "name", "created_at"} for m in conv["messages"])


def test_speaker_b_role_option(fake_path):
    conv, _ = L.load_conversation(fake_path, speaker_b_role="assistant")
    assert {m["name"]: m["role"] for m in conv["messages"]} == {"Ana": "user", "Bo": "assistant"}


def test_evidence_parsing_is_robust():
    assert L.parse_evidence("D8:6; D9:17") == ["D8:6", "D9:17"]
    assert L.parse_evidence("D:11:26") == ["D11:26"]
    assert L.parse_evidence("d10 : 3") == ["D10:3"]
    assert L.parse_evidence("D08:06,D9:1") == ["D8:6", "D9:1"]
    assert L.parse_evidence("D") == [] and L.parse_evidence("") == []
    assert L.evidence_turns(FAKE["qa"]) == {"D2:1", "D1:1", "D10:2", "D10:3"}
    assert L.evidence_turns(FAKE["qa"], categories=(5,)) == {"D1:2"}
    assert L.evidence_turns(FAKE["qa"][1]) == {"D1:1", "D10:2"}  # one QA item


def test_recall_metrics():
    ev = {"a", "b", "c", "d"}
    assert L.evidence_recall(["a", "x"], ev) == 0.25
    assert L.evidence_recall(ev, ev) == 1.0
    with pytest.raises(ValueError):
        L.evidence_recall(["a"], set())
    qa = [{"evidence": ["D1:1", "D1:2"], "category": 1}, {"evidence": ["D2:1"], "category": 4}]
    assert L.question_recall(["D1:1"], qa) == pytest.approx(0.25)
    assert L.question_coverage(["D1:1", "D2:1"], qa) == 0.5


def test_baselines_respect_the_budget_and_their_rule(fake_path):
    conv, _ = L.load_conversation(fake_path)
    msgs = conv["messages"]
    lengths = {m["id"]: whitespace_tokens(m["content"]) for m in msgs}
    budget = 20
    for kept in (
        L.random_selection(msgs, budget, 0),
        L.recency_selection(msgs, budget),
        L.longest_turns_selection(msgs, budget),
        L.salience_selection(msgs, budget),
    ):
        assert sum(lengths[i] for i in kept) <= budget
        assert kept == [m["id"] for m in msgs if m["id"] in set(kept)]  # conversation order
    assert L.recency_selection(msgs, budget)[-1] == "D10:3"
    assert "D10:2" in L.longest_turns_selection(msgs, budget)  # the longest turn (with its caption)
    assert L.random_selection(msgs, budget, 1) == L.random_selection(msgs, budget, 1)
    assert len({tuple(L.random_selection(msgs, budget, s)) for s in range(10)}) > 1


def test_salience_prefers_facts_over_small_talk(fake_path):
    conv, _ = L.load_conversation(fake_path)
    kept = L.salience_selection(conv["messages"], 30)
    assert "D2:1" in kept and "D1:1" in kept and "D2:2" not in kept


def test_selection_does_not_change_without_qa():
    with_qa = L.conversation_from_raw(copy.deepcopy(FAKE), "c")
    no_qa_raw = {k: v for k, v in copy.deepcopy(FAKE).items() if k != "qa"}
    no_qa = L.conversation_from_raw(no_qa_raw, "c")
    assert with_qa == no_qa
    for budget in (5, 20, 40):
        assert L.salience_selection(with_qa["messages"], budget) == L.salience_selection(
            no_qa["messages"], budget
        )


# --------------------------------------------------------------------------------------------- real data

real_data = pytest.mark.skipif(not L.conversation_paths(), reason="LoCoMo data not present in ../shared")


@real_data
def test_real_selection_blind_to_qa():
    path = L.conversation_paths()[0]
    raw = json.loads(path.read_text())
    stripped = {k: v for k, v in raw.items() if k != "qa"}
    a = L.conversation_from_raw(raw, path.stem)["messages"]
    b = L.conversation_from_raw(stripped, path.stem)["messages"]
    budget = int(0.3 * L.total_tokens(a))
    assert L.salience_selection(a, budget) == L.salience_selection(b, budget)


@real_data
def test_real_report_beats_baselines():
    report = L.run(fraction=0.3, seeds=range(3))
    mean = report["mean_recall"]
    assert set(mean) >= {"random", "recency", "longest", "salience"}
    assert 0.2 < mean["random"] < 0.4
    # Regression guard for the salience features (measured 0.567 when written).
    assert mean["salience"] >= 0.52
    assert mean["salience"] > mean["longest"] > mean["random"]
    for row in report["conversations"]:
        assert row["budget_tokens"] == int(0.3 * row["tokens"])


def test_cli_bad_input_exits_2(tmp_path, capsys):
    assert L.main(["--data-dir", str(tmp_path)]) == 2
    assert "no conv-*.json" in capsys.readouterr().err
    assert L.main(["--fraction", "0"]) == 2
