"""Policy: small-talk splitting, score combination, merging, budget, supersede planning, carry-forward."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reflection.config import ReflectionConfig
from reflection.policy import BankItem, decide, salience_scores, split_parts
from reflection.salience import contexts_for, is_small_talk, split_small_talk
from reflection.scorers import ModelScores
from reflection.segments import build_segments, whitespace_tokens

CFG = ReflectionConfig(budget_fraction=1.0, min_score=0.0)


def _parts(messages, cfg=CFG):
    segs = build_segments(messages, whitespace_tokens, config=cfg.segment_config())
    return split_parts(segs, contexts_for(segs), whitespace_tokens, cfg.split_small_talk), segs


def _decide(messages, cfg=CFG, **kw):
    parts, segs = _parts(messages, cfg)
    total = sum(s.token_count for s in segs)
    return decide(parts, salience_scores(parts, None, cfg), total_tokens=total, config=cfg, **kw)


def _msgs(*texts, role="user"):
    return [{"id": f"m{i}", "role": role, "content": t} for i, t in enumerate(texts)]


@pytest.mark.parametrize(
    "sentence, talk",
    [
        ("Hey Caroline!", True),
        ("Wow, that's so cool, Mel!", True),
        ("How have you been?", True),
        ("What now?", True),
        ("Thanks!", True),
        ("I went to a support group yesterday.", False),
        ("Sunflowers mean warmth and happiness, right?", False),  # states something
        ("Did you hear back from Dr. Patel on Monday?", False),  # a name and a day: information
        ("The studio looks amazing.", False),
    ],
)
def test_small_talk_sentences(sentence, talk):
    assert is_small_talk(sentence) is talk


def test_split_small_talk_keeps_order_and_everything():
    text = "Hey Mel! Good to see you! I'm swamped with the kids & work. What's up with you? Anything new?"
    info, talk = split_small_talk(text)
    assert info == "I'm swamped with the kids & work."
    assert talk == "Hey Mel! Good to see you! What's up with you? Anything new?"
    assert split_small_talk("I live in Oslo.") == ("I live in Oslo.", "")
    assert split_small_talk("Thanks! See you!") == ("", "Thanks! See you!")


def test_parts_share_the_message_id_and_the_small_talk_half_is_dropped():
    # 80% of the tokens: room for the information, not for the small talk as well.
    out = _decide(
        _msgs("Hey! How are you? I adopted a puppy called Luna on Saturday."), ReflectionConfig(0.8)
    )
    kinds = {d.part.kind: d for d in out.decisions}
    assert set(kinds) == {"info", "small_talk"}
    assert kinds["info"].kept and kinds["info"].part.text == "I adopted a puppy called Luna on Saturday."
    assert not kinds["small_talk"].kept
    assert kinds["small_talk"].source_message_ids == kinds["info"].source_message_ids == ["m0"]
    # Without splitting the whole message is one part.
    whole = _decide(
        _msgs("Hey! How are you? I adopted a puppy called Luna on Saturday."),
        CFG.__class__(budget_fraction=1.0, min_score=0.0, split_small_talk=False),
    )
    assert [d.part.kind for d in whole.decisions] == ["whole"]


def test_budget_is_never_exceeded_and_the_floor_holds():
    texts = [f"I visited {city} on Monday with my friend Sam and we saw {n} museums." for n, city in
             enumerate(["Oslo", "Rome", "Paris", "Lima", "Kyiv", "Cairo"])]  # fmt: skip
    out = _decide(_msgs(*texts, "ok", "lol"), ReflectionConfig(budget_fraction=0.4, min_score=0.05))
    kept = [d for d in out.decisions if d.kept]
    assert 0 < out.kept_tokens <= out.budget_tokens == int(0.4 * out.total_tokens)
    assert sum(d.tokens for d in kept) == out.kept_tokens
    assert all(d.score > 0.05 for d in kept)
    assert all(d.verdict for d in out.decisions)  # every part has a verdict


def test_system_messages_are_never_kept():
    msgs = [{"id": "s", "role": "system", "content": "You are a helpful assistant. Remember that!"}]
    out = _decide(msgs + _msgs("I live in Oslo."), dataclasses.replace(CFG, include_system=True))
    sys_d = next(d for d in out.decisions if d.source_message_ids == ["s"])
    assert sys_d.score == 0.0 and not sys_d.kept


def test_model_scores_move_the_score_only_when_active():
    parts, segs = _parts(_msgs("I live in Oslo.", "I like trains a lot."))
    sal = salience_scores(parts, None, CFG)
    total = sum(s.token_count for s in segs)

    def run(active: bool, judge_active: bool):
        model = ModelScores(loss=[1.0, 5.0], tokens=[4, 5], p_yes=[0.9, 0.1], surprise_active=active)
        return decide(parts, sal, total_tokens=total, config=CFG, model=model, judge_p=model.p_yes,
                      judge_active=judge_active)  # fmt: skip

    off, on, judged = run(False, False), run(True, False), run(False, True)
    assert [d.score for d in off.decisions] == [s.value for s in sal]
    assert on.decisions[1].score > off.decisions[1].score  # the surprising one
    assert on.decisions[0].score < off.decisions[0].score  # the predictable one
    assert any("surprising" in r for r in on.decisions[1].reasons)
    assert judged.decisions[0].score > off.decisions[0].score > 0
    assert judged.decisions[1].score < off.decisions[1].score
    assert off.decisions[0].components["judge_p_yes"] == 0.9  # recorded even when it does not count


def test_near_duplicates_merge_tonight_and_with_the_bank(embedder):
    msgs = _msgs(
        "I started a new job at the harbour office on Monday.",
        "Just so you know, I started a new job at the harbour office on Monday.",
        "My daughter Mia is allergic to peanuts.",
    )
    parts, segs = _parts(msgs)
    emb = embedder.encode([p.text for p in parts])
    total = sum(s.token_count for s in segs)
    out = decide(parts, salience_scores(parts, None, CFG), total_tokens=total, config=CFG, embeddings=emb)
    merged = [d for d in out.decisions if d.merged_into is not None]
    assert len(merged) == 1 and "merged" in merged[0].verdict and not merged[0].kept
    rep = out.decisions[merged[0].merged_into]
    assert rep.kept
    item = next(it for it in out.items if it.part_index == merged[0].merged_into)
    assert set(item.source_message_ids) == {"m0", "m1"}  # provenance keeps both messages
    # Against the bank: the same fact already stored is merged into it, not stored again.
    bank = [BankItem(7, "I started a new job at the harbour office on Monday.", None, None, None, ("old",))]
    out2 = decide(parts, salience_scores(parts, None, CFG), total_tokens=total, config=CFG, embeddings=emb,
                  bank=bank, bank_embeddings=embedder.encode([bank[0].text]))  # fmt: skip
    assert {m.memory_id for m in out2.merges} == {7}
    assert set(out2.merges[0].message_ids) == {"m0", "m1"}
    assert all(d.merged_into_memory == 7 for d in out2.decisions[:2])
    assert out2.decisions[2].kept and "bank_cosine" in out2.decisions[2].components


def test_similar_but_different_is_penalised_not_merged(embedder):
    parts, _segs = _parts(_msgs("My daughter Mia is allergic to peanuts and cashews."))
    emb = embedder.encode([p.text for p in parts])
    bank = [BankItem(3, "My daughter Mia is allergic to peanuts.", None, None, None)]
    bank_emb = embedder.encode([bank[0].text])
    cos = float(emb[0] @ bank_emb[0])
    cfg = dataclasses.replace(CFG, related_cosine=cos - 0.05, duplicate_cosine=min(1.0, cos + 0.05))
    sal = salience_scores(parts, None, cfg)
    out = decide(parts, sal, total_tokens=10, config=cfg, embeddings=emb, bank=bank, bank_embeddings=bank_emb)
    d = out.decisions[0]
    assert d.merged_into_memory is None and d.components["redundancy"] > 0
    assert d.score < sal[0].value and any("similar to memory #3" in r for r in d.reasons)


def test_slot_update_gets_priority_and_plans_the_supersede():
    bank = [BankItem(1, "I live in Oslo.", "user", "city", "Oslo")]
    out = _decide(_msgs("I live in Oslo, by the way.", "We moved to Lisbon!"), bank=bank)
    d_restated, d_update = out.decisions
    assert d_update.components["update"] == 1.0 and any("changes city" in r for r in d_update.reasons)
    assert d_restated.components["restated"] == 1.0 and d_update.score > d_restated.score
    oslo_again, lisbon = out.items
    assert oslo_again.supersedes_bank == [] and oslo_again.value == "Oslo"
    # The later change supersedes the bank item and tonight's restatement alike.
    assert lisbon.supersedes_bank == [1] and lisbon.supersedes_planned == [0] and lisbon.relation == "city"


def test_the_latest_statement_wins():
    bank = [BankItem(1, "I live in Oslo.", "user", "city", "Oslo")]
    out = _decide(_msgs("We moved to Lisbon!", "I live in Oslo, by the way."), bank=bank)
    lisbon, oslo = out.items
    assert lisbon.supersedes_bank == [1]
    assert oslo.supersedes_planned == [0] and oslo.value == "Oslo"


def test_same_night_change_supersedes_the_earlier_item():
    out = _decide(_msgs("I live in Oslo.", "Actually we moved to Lisbon last month."))
    oslo, lisbon = out.items
    assert oslo.value == "Oslo" and lisbon.value == "Lisbon"
    assert lisbon.supersedes_planned == [0]


def test_unchanged_facts_of_a_superseded_item_are_carried_forward():
    bank = [
        BankItem(
            4, "I live in Oslo. My sister is called Ana. I work at Acme.", "user", "city", "Oslo", ("d1",)
        )
    ]
    out = _decide(_msgs("We moved to Lisbon."), bank=bank)
    carried = {it.relation: it for it in out.items if it.carried_from == 4}
    assert set(carried) == {"sister", "employer"}
    assert carried["sister"].text == "My sister is called Ana." and carried["sister"].source_message_ids == [
        "d1"
    ]
    assert carried["employer"].value == "Acme"
    assert not any("Oslo" in it.text for it in carried.values())


def test_multi_valued_relations_never_supersede():
    bank = [BankItem(2, "My friend Tom is great.", "user", "friend", "Tom")]
    out = _decide(_msgs("My friend Sara came over."), bank=bank)
    assert out.items[0].supersedes_bank == []


def test_named_speakers_have_their_own_slots():
    bank = [BankItem(5, "I live in Oslo.", "Caroline", "city", "Oslo")]
    msgs = [{"id": "x", "role": "user", "name": "Melanie", "content": "I live in Lisbon."}]
    out = _decide(msgs, bank=bank)
    assert out.items[0].subject == "Melanie" and out.items[0].supersedes_bank == []


def test_decide_is_deterministic(embedder):
    msgs = _msgs("I live in Oslo.", "Thanks!", "My dog Rex turns 3 on 4 May.", "Hey, how are you?")
    parts, _segs = _parts(msgs)
    emb = embedder.encode([p.text for p in parts])
    a = _decide(msgs, embeddings=emb)
    b = _decide(msgs, embeddings=np.array(emb))
    assert [(d.score, d.kept, d.all_reasons()) for d in a.decisions] == [
        (d.score, d.kept, d.all_reasons()) for d in b.decisions
    ]
