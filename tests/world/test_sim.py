"""The persona world: determinism, ground truth consistent with replayed events, no leaks."""

from __future__ import annotations

import pytest

from world import (
    ABSTAIN_ANSWER,
    HELDOUT,
    RELATIONS,
    RELATIONS_BY_KEY,
    TRAIN,
    WorldConfig,
    score_answer,
    simulate_world,
    world_stats,
)
from world.facts import mentions
from world.pools import POOLS

SEEDS = (0, 1, 2, 3, 4)


@pytest.fixture(scope="module")
def worlds():
    return {seed: simulate_world(seed, days=10) for seed in SEEDS}


def _messages(world):
    return {m.id: (c, m) for c in world.conversations for m in c.messages}


def test_same_seed_gives_same_world():
    assert simulate_world(7, days=6) == simulate_world(7, days=6)


def test_different_seeds_differ(worlds):
    texts = {seed: [m.content for c in w.conversations for m in c.messages] for seed, w in worlds.items()}
    assert texts[0] != texts[1]
    values = {seed: {e.fact.value for e in w.events} for seed, w in worlds.items()}
    assert values[0] != values[1]


def test_relations_and_answer_spans():
    assert len(RELATIONS) >= 14
    for rel in RELATIONS:
        for value in POOLS[rel.pool]:
            assert 1 <= len(value.split()) <= 3, value


def test_events_replay_and_ground_truth(worlds):
    for world in worlds.values():
        by_id = _messages(world)
        current: dict[str, tuple[str, str, int]] = {}  # relation -> (value, fact id, day)
        history: dict[str, list[str]] = {}
        for day in world.days:
            revealed_today, updated_today = set(), set()
            for e in day.events:
                content = by_id[e.message_id][1].content
                assert mentions(content, e.fact.value)
                if e.type == "reveal":
                    assert e.relation not in current and e.previous is None
                    revealed_today.add(e.relation)
                else:
                    assert e.type == "update" and RELATIONS_BY_KEY[e.relation].mutable
                    assert e.previous is not None and current[e.relation][1] == e.previous.id
                    assert e.fact.supersedes == e.previous.id
                    updated_today.add(e.relation)
                current[e.relation] = (e.fact.value, e.fact.id, day.day)
                history.setdefault(e.relation, []).append(e.fact.value)
            assert {k: f.value for k, f in world.facts_at(day.day).items()} == {
                k: v[0] for k, v in current.items()
            }
            for q in day.questions:
                assert q.day == day.day
                if q.kind == "abstention":
                    assert q.relation not in current and q.relation in world.never_revealed
                    assert q.answer == ABSTAIN_ANSWER and q.template_split == HELDOUT
                    continue
                value, fact_id, fact_day = current[q.relation]
                older = tuple(history[q.relation][:-1])
                if q.kind == "override":
                    assert q.answer != value and value in q.wrong_answers
                    assert q.context and q.context[0]["role"] == "user"
                    assert mentions(q.context[0]["content"], q.answer)
                    assert not any(
                        mentions(q.answer, v) or mentions(v, q.answer) for v in history[q.relation]
                    )
                    continue
                assert q.answer == value and q.fact_id == fact_id and q.fact_day == fact_day
                assert q.wrong_answers == older
                if q.kind == "acquisition":
                    assert q.relation in revealed_today and fact_day == day.day
                elif q.kind == "update":
                    assert q.relation in updated_today and older and older[-1] in q.wrong_answers
                else:
                    assert q.kind == "retention" and fact_day < day.day
                    assert q.relation not in revealed_today | updated_today
            kinds = {q.kind for q in day.questions}
            assert {"abstention", "override"} <= kinds
            if day.day > 1:
                assert "retention" in kinds
            assert kinds & {"acquisition", "update"}, f"day {day.day} has nothing new to learn"


def test_world_has_updates_and_all_question_kinds(worlds):
    stats = [world_stats(w) for w in worlds.values()]
    assert all(s["updates"] > 0 for s in stats)
    for s in stats:
        assert set(s["questions_by_kind"]) == {"acquisition", "update", "retention", "abstention", "override"}
        assert s["questions_by_split"][TRAIN] > 0 and s["questions_by_split"][HELDOUT] > 0


def test_in_conversation_recall_answers_come_from_earlier_in_the_conversation(worlds):
    n = 0
    for world in worlds.values():
        for check in world.recall_checks:
            conv = next(c for c in world.conversations if c.id == check.conversation_id)
            ids = [m.id for m in conv.messages]
            s, q, a = (
                ids.index(check.statement_message_id),
                ids.index(check.question_message_id),
                ids.index(check.answer_message_id),
            )
            assert s < q < a == q + 1
            assert mentions(conv.messages[s].content, check.answer)
            assert not mentions(conv.messages[q].content, check.answer)
            later_user = [m for m in conv.messages[q:] if m.role == "user"]
            assert not any(mentions(m.content, check.answer) for m in later_user)
            assert conv.messages[a].role == "assistant"
            assert score_answer(conv.messages[a].content, check.answer)
            assert any(e.fact.id == check.fact_id and e.conversation_id == conv.id for e in world.events)
            n += 1
    assert n > 10


def test_heldout_questions_never_appear_in_conversations(worlds):
    for world in worlds.values():
        corpus = "\n".join(m.content.lower() for c in world.conversations for m in c.messages)
        for q in world.questions:
            if q.template_split == HELDOUT:
                assert q.question.lower() not in corpus, q.question


def test_user_turns_mention_only_their_own_values(worlds):
    for world in worlds.values():
        values = {e.fact.value for e in world.events}
        allowed: dict[str, set[str]] = {}
        for e in world.events:
            allowed[e.message_id] = {e.fact.value} | ({e.previous.value} if e.previous else set())
        for conv in world.conversations:
            for m in conv.messages:
                mentioned = {v for v in values if mentions(m.content, v)}
                if m.role == "user":
                    assert mentioned <= allowed.get(m.id, set()), (m.id, m.content, mentioned)


def test_ids_unique_timestamps_ordered_and_format(worlds):
    all_ids: set[str] = set()
    for world in worlds.values():
        conv_ids = [c.id for c in world.conversations]
        assert len(conv_ids) == len(set(conv_ids))
        last = ""
        for conv in world.conversations:
            for m in conv.messages:
                assert m.id not in all_ids
                all_ids.add(m.id)
                assert m.created_at > last
                last = m.created_at
                assert m.role in ("user", "assistant")
                assert m.content and "\n" not in m.content and m.content.isascii()
                assert not m.content.startswith(("User:", "Assistant:", "System:"))
            roles = [m.role for m in conv.messages]
            assert roles == ["user", "assistant"] * (len(roles) // 2)
        q_ids = [q.id for q in world.questions]
        assert len(q_ids) == len(set(q_ids))


def test_abstention_relations_are_never_mentioned(worlds):
    for world in worlds.values():
        assert world.never_revealed
        revealed = {e.relation for e in world.events}
        assert not revealed & set(world.never_revealed)


def test_bad_seed_and_config_are_rejected():
    with pytest.raises(ValueError, match="evaluation seeds"):
        simulate_world(1000)
    with pytest.raises(ValueError, match="evaluation seeds"):
        simulate_world(-1)
    with pytest.raises(ValueError, match="days"):
        simulate_world(0, days=0)
    with pytest.raises(ValueError, match="statement_split"):
        simulate_world(0, WorldConfig(statement_split="bogus"))


def test_long_world_keeps_learning_after_reveals_run_out():
    world = simulate_world(11, days=40)
    late = [d for d in world.days if d.day > 20]
    assert all(any(e.type == "update" for e in d.events) for d in late)
