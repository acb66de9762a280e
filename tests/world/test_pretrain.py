"""Pretraining chats and the in-context recall eval set."""

from __future__ import annotations

import pytest

from model.chat_format import parse_transcript
from world import ABSTAIN_ANSWER, EVAL_SEED_LIMIT, HELDOUT, PRETRAIN_SEED_MIN, TRAIN, score_answer
from world import pretrain_data as pretrain
from world.facts import mentions, persona_signature
from world.templates import all_templates

SPLIT_OF = {t.id: t.split for t in all_templates()}


@pytest.fixture(scope="module")
def chats():
    return list(pretrain.iter_pretrain_chats(count=1500))


def test_pretraining_refuses_evaluation_seeds():
    with pytest.raises(ValueError):
        next(pretrain.iter_pretrain_chats(start_seed=5))
    with pytest.raises(ValueError):
        pretrain.make_chat(EVAL_SEED_LIMIT - 1, split=TRAIN)
    with pytest.raises(ValueError):
        pretrain.make_chat(PRETRAIN_SEED_MIN, split=HELDOUT)
    with pytest.raises(ValueError):
        pretrain.make_chat(PRETRAIN_SEED_MIN, split="all")


def test_pretraining_personas_are_not_evaluation_personas(chats):
    assert all(c.seed >= PRETRAIN_SEED_MIN for c in chats)
    eval_personas = {persona_signature(pretrain.chat_persona(seed)) for seed in range(EVAL_SEED_LIMIT)}
    assert len(eval_personas) == EVAL_SEED_LIMIT
    assert all(persona_signature(dict(c.persona)) not in eval_personas for c in chats)
    assert persona_signature(pretrain.chat_persona(3)) == pretrain.make_chat(3, split=HELDOUT).persona


def test_pretraining_uses_only_train_templates(chats):
    for c in chats:
        assert all(SPLIT_OF[t] == TRAIN for t in c.statement_template_ids)
        assert all(SPLIT_OF[q.template_id] == TRAIN for q in c.questions)


def test_chat_shape_and_answers(chats):
    n_questions = n_abstain = 0
    for c in chats:
        assert 3 <= len(c.stated) <= 8 and 2 <= len(c.questions) <= 4
        messages = parse_transcript(c.text)
        assert messages == c.messages
        assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2)
        persona = dict(c.persona)
        context = " ".join(m["content"] for m in c.context if m["role"] == "user")
        for q in c.questions:
            n_questions += 1
            if q.abstain:
                n_abstain += 1
                assert q.relation not in c.stated and q.reply == ABSTAIN_ANSWER == q.answer
                assert not mentions(context, persona[q.relation])
            else:
                assert q.relation in c.stated and mentions(context, q.answer)
                assert score_answer(q.reply, q.answer, q.wrong_answers)
                assert not mentions(q.question, q.answer)
    assert 0.12 <= n_abstain / n_questions <= 0.18


def test_some_chats_update_a_fact_and_ask_for_the_new_value(chats):
    updated = [q for c in chats for q in c.questions if q.wrong_answers]
    assert updated
    for c in chats:
        for q in c.questions:
            if q.wrong_answers:
                users = [m["content"] for m in c.context if m["role"] == "user"]
                last = max(i for i, u in enumerate(users) if mentions(u, q.answer))
                first_old = min(i for i, u in enumerate(users) if mentions(u, q.wrong_answers[0]))
                assert first_old < last


def test_pretraining_is_deterministic():
    assert list(pretrain.pretrain_texts(PRETRAIN_SEED_MIN + 10, 5)) == list(
        pretrain.pretrain_texts(PRETRAIN_SEED_MIN + 10, 5)
    )
    assert (
        pretrain.make_chat(PRETRAIN_SEED_MIN, split=TRAIN).text
        != pretrain.make_chat(PRETRAIN_SEED_MIN + 1, split=TRAIN).text
    )


def test_incontext_eval_items():
    items = pretrain.incontext_eval_items(range(50))
    assert all(0 <= i.seed < EVAL_SEED_LIMIT for i in items)
    assert all(SPLIT_OF[i.template_id] == HELDOUT for i in items)
    per_seed = {}
    for i in items:
        per_seed.setdefault(i.seed, []).append(i)
        assert i.prompt.endswith("\n\nAssistant:") and i.prompt.startswith(("User: ", "User:"))
        if i.abstain:
            assert i.answer == ABSTAIN_ANSWER
        else:
            assert mentions(i.context_text, i.answer)
    assert all(sum(i.abstain for i in group) == 1 for group in per_seed.values())
    bare = pretrain.no_context_items(items)
    assert [b.question for b in bare] == [i.question for i in items]
    assert bare[0].prompt == f"User: {items[0].question}\n\nAssistant:"
    for b, i in zip(bare, items, strict=True):
        if not i.abstain:
            assert not mentions(b.prompt, i.answer)


def test_ask_stated_asks_every_fact_and_some_unstated_ones():
    from world import ChatConfig

    cfg = ChatConfig(ask_stated=True)
    chats = list(pretrain.iter_pretrain_chats(count=600, config=cfg))
    n_questions = n_abstain = abstain_not_last = 0
    for c in chats:
        asked = [q.relation for q in c.questions if not q.abstain]
        assert sorted(asked) == sorted(c.stated)  # every stated fact, once
        for i, q in enumerate(c.questions):
            n_questions += 1
            if q.abstain:
                n_abstain += 1
                abstain_not_last += i < len(c.questions) - 1
                assert q.relation not in c.stated and q.reply == ABSTAIN_ANSWER
    assert 0.12 <= n_abstain / n_questions <= 0.18
    assert abstain_not_last > n_abstain / 3  # not always at the end (the eval set asks it last)


def test_everyday_chats_use_training_nouns_phrasings_and_values_only():
    from world import everyday
    from world.pools import value_split
    from world.pretrain_data import ChatConfig

    cfg = ChatConfig(
        ask_stated=True, abstain_prob=0.04, everyday=(1, 3), no_facts_prob=0.1, value_split=TRAIN
    )
    seen_everyday = no_fact_chats = 0
    for chat in pretrain.iter_pretrain_chats(count=400, config=cfg):
        assert all(SPLIT_OF[t] == TRAIN for t in chat.statement_template_ids)
        assert all(SPLIT_OF[q.template_id] == TRAIN for q in chat.questions)
        assert all(value_split(v) == TRAIN or v in everyday_weekdays() for _, v in chat.persona)
        if not chat.stated:
            no_fact_chats += 1
            assert chat.questions and all(q.abstain and q.reply == ABSTAIN_ANSWER for q in chat.questions)
        for q in chat.questions:
            if ":" in q.relation or q.relation == "purchase":
                kind, _, noun = q.relation.partition(":")
                assert noun in everyday.nouns(kind, TRAIN) or kind == "purchase"
                if not q.abstain:
                    seen_everyday += 1
                    assert value_split(q.answer) == TRAIN and score_answer(q.reply, q.answer)
                    context = " ".join(m["content"] for m in chat.context if m["role"] == "user")
                    assert mentions(context, q.answer)
    assert seen_everyday > 300 and 20 <= no_fact_chats <= 60


def everyday_weekdays():
    from world.pools import WEEKDAYS

    return WEEKDAYS


def test_the_everyday_eval_set_is_held_out_in_nouns_and_values():
    from world import everyday
    from world.pools import value_split
    from world.pretrain_data import everyday_eval_items

    items = everyday_eval_items(range(20))
    answerable = [i for i in items if not i.abstain]
    assert len(answerable) >= 60 and len(items) > len(answerable)
    for item in items:
        kind, _, noun = item.relation.partition(":")
        assert kind == "purchase" or noun in everyday.nouns(kind, HELDOUT)
        assert SPLIT_OF[item.template_id] == HELDOUT
        if not item.abstain:
            assert value_split(item.answer) == HELDOUT and mentions(item.context_text, item.answer)
