"""Probes: cloze masks the salient span, QA from templates (train/heldout splits) or checked model output."""

from __future__ import annotations

import dataclasses

from reflection.config import ReflectionConfig
from reflection.probes import (
    ModelQA,
    cloze,
    cloze_probes,
    fact_qa_probes,
    item_probes,
    salient_spans,
    valid_question,
)
from reflection.slots import extract_slots
from reflection.stated import stated_facts
from world.templates import question_templates


def _spans(text):
    return [(text[s:e], kind) for s, e, kind in salient_spans(text)]


def test_salient_spans():
    text = "On 7 May 2023 my friend Ana Maria and I ran 10 km. Hey Mel, it was at 7:30 pm!"
    found = _spans(text)
    assert ("7 May 2023", "date") in found and ("7:30 pm", "date") in found
    assert ("Ana Maria", "name") in found and ("10", "number") in found
    assert all(w not in {t for t, _ in found} for w in ("On", "Hey", "I"))  # sentence starts, pronouns
    masked = "My key is [REDACTED:api_key] and my PIN is [REDACTED:password]."
    assert _spans(masked) == []  # a mask is never a span


def test_cloze_masks_the_slot_value():
    text = "Big news: we moved to Lisbon last week!"
    probes = cloze_probes(text, "user", [s for s in extract_slots(text)])
    assert probes[0].prompt == "User: Big news: we moved to" and probes[0].answer == "Lisbon"
    assert probes[0].split == "train" and probes[0].source == "slot:city"
    assert all(p.answer not in p.prompt for p in probes)
    assert len({p.answer for p in probes}) == len(probes)


def test_an_update_is_never_probed_for_the_value_it_replaces():
    # Measured in bench/memory.py's gates: "User: My gym day is Sunday now, not" -> expected "Thursday",
    # a miss on every night that counted against acquisition and retention.
    for text, value in (
        ("My gym day is Sunday now, not Thursday.", "Sunday"),
        ("Next door is Nadia now, since Ottilie left.", "Nadia"),
    ):
        probes = cloze_probes(text, "user", list(extract_slots(text)), 2, stated_facts(text))
        assert [p.answer for p in probes] == [value]
    # An item that states no fact is still probed on its salient spans.
    free = "On 7 May 2023 my friend Ana Maria and I ran 10 km."
    assert len(cloze_probes(free, "user", [], 2, stated_facts(free))) == 2


def test_cloze_needs_context_and_keeps_prompts_short():
    assert cloze("Lisbon is home.", "user", (0, 6)) is None  # nothing before the span
    long_text = "word " * 200 + "and then Ana called."
    start = long_text.index("Ana")
    prompt, answer = cloze(long_text, "assistant", (start, start + 3))
    assert answer == "Ana" and prompt.startswith("Assistant: ") and len(prompt) <= 320


def test_fact_questions_use_both_splits():
    probes = fact_qa_probes(stated_facts("I live in Lisbon."), 3, seed="x")
    assert [p.split for p in probes] == ["train", "train", "train", "eval"]
    train_q = {t.text for t in question_templates("city", "train")}
    heldout_q = {t.text for t in question_templates("city", "heldout")}
    assert all(p.prompt in train_q for p in probes[:3]) and probes[3].prompt in heldout_q
    assert len({p.prompt for p in probes}) == 4
    assert all(p.answer == "Lisbon" and p.source == "fact:city" for p in probes)
    assert fact_qa_probes(stated_facts("I'm 34 years old."), 3, seed="x") == []  # no templates for age


def test_everyday_facts_get_questions_of_their_kind():
    probes = fact_qa_probes(stated_facts("I just adopted a parrot and named it Kasimir."), 2, seed="x")
    assert [p.answer for p in probes] == ["Kasimir"] * 3
    assert all("parrot" in p.prompt and p.prompt.endswith("?") for p in probes)


def test_question_checks():
    text = "I adopted a puppy called Luna on Saturday."
    assert valid_question("What is the name of the puppy I adopted?", "Luna", text)
    assert not valid_question("What is the name of Luna?", "Luna", text)  # gives the answer away
    assert not valid_question("what puppy", "Luna", text)  # not a question
    assert not valid_question("Where is the moon tonight, my friend?", "Luna", text)  # unrelated
    assert not valid_question("Q: %%% ### puppy ???", "Luna", text)


def test_a_model_that_cannot_write_questions_is_given_up_on(tiny_bundle):
    cfg = dataclasses.replace(ReflectionConfig(), qa_model_give_up_after=2, qa_model_max_items=10)
    qa = ModelQA(tiny_bundle, None, cfg)
    for _ in range(5):
        assert qa.ask("I adopted a puppy called Luna on Saturday.", "Luna") is None
    assert qa.asked == 2 and not qa.available  # gave up after two rejections in a row
    assert "gave up" in qa.note()


def test_item_probes_combine_cloze_and_templates(tiny_bundle):
    text = "My sister is called Ana and I live in Porto."
    slots = [(s, "user") for s in extract_slots(text)]
    qa = ModelQA(None, None, ReflectionConfig())
    probes = item_probes(text, "user", slots, ReflectionConfig(), qa, stated_facts(text))
    kinds = [(p.kind, p.split, p.answer) for p in probes]
    assert ("cloze", "train", "Ana") in kinds and ("cloze", "eval", "Porto") in kinds
    assert ("qa", "train", "Porto") in kinds and ("qa", "eval", "Porto") in kinds
    assert ("qa", "eval", "Ana") in kinds
