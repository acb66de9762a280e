"""Salience features: each one fires on its cue, moves the score the right way, and explains itself."""

from __future__ import annotations

import dataclasses
import time

import pytest

from reflection.salience import (
    COMPONENTS,
    Context,
    SalienceConfig,
    Score,
    contexts_for,
    salience,
    score_segment,
    score_segments,
)
from reflection.segments import SegmentConfig, build_segments


def _has(score: Score, prefix: str) -> bool:
    return any(r.startswith(prefix) for r in score.reasons)


def test_shape_and_range():
    for text in ["", "ok", "I moved to Lisbon last week with my wife Ana.", "?" * 50, "Remember that! " * 40]:
        s = salience(text, "user")
        assert 0.0 <= s.value <= 1.0
        assert set(s.components) == set(COMPONENTS)
        assert all(isinstance(r, str) and r for r in s.reasons)


def test_deterministic():
    text = "Actually, I meant Lisbon: we moved there on 3 May with Ana and 2 cats."
    a, b = salience(text, "user", 0.5), salience(text, "user", 0.5)
    assert a == b


def test_explicit_cue_dominates():
    plain = salience("my sister's name is Ana", "user")
    cued = salience("Please remember that my sister's name is Ana", "user")
    assert cued.components["cue"] == 1.0 and plain.components["cue"] == 0.0
    assert cued.value > plain.value + 0.2
    assert _has(cued, "explicit memory cue")
    for text in ["Don't forget I'm allergic to nuts", "For the record, I prefer tea", "Note that I'm vegan",
                 "Keep in mind my flight is on Friday"]:  # fmt: skip
        assert salience(text, "user").components["cue"] == 1.0, text


@pytest.mark.parametrize(
    "text",
    [
        "Actually, it's Lisbon, not Oslo.",
        "No, it's my brother who lives there.",
        "I meant Tuesday.",
        "Sorry, I was wrong about the date.",
        "It's not Oslo but Bergen.",
        "I no longer work at Acme.",
    ],
)
def test_corrections(text):
    s = salience(text, "user")
    assert s.components["correction"] == 1.0
    assert _has(s, "correction")
    assert s.value > salience("It's Lisbon.", "user").value


def test_feedback_moves_score_both_ways_and_is_clamped():
    text = "Here is a summary of the article you sent."
    none, up, down = (salience(text, "assistant", r) for r in (None, 1.0, -1.0))
    assert none.components["feedback"] == 0.0 and not _has(none, "positive") and not _has(none, "negative")
    assert up.value > none.value > down.value
    assert _has(up, "positive feedback") and _has(down, "negative feedback")
    assert salience(text, "assistant", 7.0).components["feedback"] == 1.0


def test_self_disclosure_beats_small_talk():
    fact = salience("I started a new job at Acme last week and we moved to Lisbon.", "user")
    chat = salience("Thanks, that's awesome! Glad to hear it!", "user")
    assert fact.components["self_disclosure"] > 0 and _has(fact, "self-disclosure")
    assert chat.components["phatic"] > 0 and _has(chat, "small talk")
    assert fact.value > chat.value + 0.3
    # Reactions in the first person are not disclosures.
    assert salience("I think so. I guess. I agree.", "user").components["self_disclosure"] == 0.0


def test_names_not_at_sentence_start_and_not_vocatives():
    s = salience("We met Ana in Oslo and later saw Bruno.", "user")
    assert s.components["names"] == 1.0 and _has(s, "names")
    assert salience("Thanks, Mel! That's great, Caroline!", "user").components["names"] == 0.0
    assert salience("Yesterday was fun. Monday too.", "user").components["names"] == 0.0


def test_dates_numbers_plans():
    s = salience("Yesterday at 5pm I paid 40 dollars for 2 tickets.", "user")
    assert s.components["temporal"] > 0 and s.components["numbers"] == 1.0
    assert _has(s, "date/time") and _has(s, "numbers")
    p = salience("I'm going to Paris next week for a conference.", "user")
    assert p.components["plans"] == 1.0 and _has(p, "plan/future")
    bare = salience("Paris is nice.", "user")
    assert s.value > bare.value and p.value > bare.value


def test_questions_without_information_are_pushed_down():
    q = salience("What do you think about that? Why?", "user")
    assert q.components["question"] == 1.0
    assert q.value < salience("I think the second plan is better for the garden.", "user").value


def test_role_weights():
    text = "I moved to Lisbon last month and I'm working at Acme now."
    user, assistant = salience(text, "user"), salience(text, "assistant")
    assert user.value > assistant.value
    system = salience(text, "system")
    assert system.value == 0.0 and _has(system, "system message")


def test_assistant_boilerplate():
    s = salience("As an AI language model, I don't have personal opinions. How can I help?", "assistant")
    assert s.components["boilerplate"] == 1.0 and _has(s, "assistant boilerplate")
    assert s.value < 0.05
    assert salience("I'm an assistant teacher at the school.", "user").components["boilerplate"] == 0.0


def test_config_is_frozen_and_weights_matter():
    config = SalienceConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.w_cue = 0.0  # type: ignore[misc]
    text = "Remember that the gate code changed."
    no_cue = dataclasses.replace(config, w_cue=0.0)
    assert salience(text, config=no_cue).value < salience(text, config=config).value
    assert config.weight("cue") == config.w_cue and config.weight("unknown") == 0.0


def test_context_components():
    text = "Oslo, since 2019."
    base = salience(text, "user")
    ans = salience(text, "user", context=Context(answers_question=True))
    opener = salience(text, "user", context=Context(opens_session=True))
    assert ans.components["answer"] == 1.0 and _has(ans, "answers a question") and ans.value > base.value
    assert opener.components["opener"] == 1.0 and opener.value > base.value


def test_specificity_needs_a_batch():
    text = "We bought a kayak and a tandem bicycle."
    alone = salience(text, "user")
    assert alone.components["specificity"] == 0.0
    df = {"kayak": 1, "tandem": 1, "bicycle": 1, "bought": 40}
    batch = salience(text, "user", context=Context(doc_freq=df, n_docs=50))
    assert batch.components["specificity"] > 0 and _has(batch, "specific words")


def _conv(*turns, times=None):
    return [
        {
            "id": f"m{i}",
            "role": role,
            "name": name,
            "content": text,
            **({"created_at": times[i]} if times else {}),
        }
        for i, (role, name, text) in enumerate(turns)
    ]


def test_contexts_for_batches():
    msgs = _conv(
        ("user", "Ana", "Where do you live now?"),
        ("user", "Bo", "Lisbon, we moved in May."),
        ("user", "Bo", "It is sunny."),
        ("user", "Ana", "Nice."),
        times=["2024-05-01T10:00:00", "2024-05-01T10:01:00", "2024-05-01T10:02:00", "2024-05-03T09:00:00"],
    )
    segs = build_segments(msgs, conversation_id="c1")
    ctx = contexts_for(segs)
    assert [c.answers_question for c in ctx] == [False, True, False, False]
    assert [c.opens_session for c in ctx] == [True, False, False, True]  # the last follows a 2-day gap
    assert ctx[0].n_docs == 4 and ctx[0].doc_freq["lisbon"] == 1
    scores = score_segments(segs)
    assert scores[1].components["answer"] == 1.0 and scores[0].components["opener"] == 1.0


def test_same_speaker_follow_up_is_not_an_answer():
    segs = build_segments(_conv(("user", None, "Do I need a visa?"), ("user", None, "I fly on Friday.")))
    assert [c.answers_question for c in contexts_for(segs)] == [False, False]


def test_window_segment_scores_by_its_best_part_and_names_the_role():
    msgs = _conv(("user", None, "Remember that I moved to Lisbon."), ("assistant", None, "Got it."))
    (seg,) = build_segments(msgs, config=SegmentConfig(pair_short_replies=True))
    score = score_segment(seg)
    assert score.value == salience("Remember that I moved to Lisbon.", "user").value
    assert all(r.startswith("user: ") for r in score.reasons)
    # Feedback is looked up per source message id.
    down = score_segment(seg, feedback={"m0": -1.0})
    assert down.value < score.value


def test_fast_enough_for_a_day():
    msgs = _conv(
        *[("user", "A", "I went to the market in Oslo on Monday and bought 3 apples for Ana.")] * 2000
    )
    segs = build_segments(msgs)
    start = time.perf_counter()
    score_segments(segs)
    assert time.perf_counter() - start < 3.0
