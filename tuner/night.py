"""From tonight's reflection output to the tuner's inputs, and the tuning step of a sleep cycle.

Queries per memory item: its probes of the "train" split (cloze, and QA: reflection writes several
self-study questions per stated fact, persona relation or everyday fact, in phrasings never used for
scoring). Each carries the value a right answer contains, so the tuner checks its teacher on it
(tuner/verify.py).

Override chats: the user states another value in the chat and asks; the right answer is the chat's value
(the memory is a default, and the conversation wins).

Negative questions (the right answer is "I don't know."): near neighbours of tonight's facts and questions
about relations the bank holds nothing for (world/neighbours.py, "train" phrasings), each tied to the
item whose context tempts the teacher most (the sister's item for "What's my brother's name?").

General text for the anchor term comes from the training corpus, never from the gate's held-out suite.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from corpus import general_documents
from memory.training import TrainingInputs, TrainingItem
from model.chat_format import format_messages
from tuner.config import TunerConfig
from tuner.data import MemoryText, Query, TrainingSet, cloze_query, qa_query
from world.compose import override_chat
from world.facts import relation
from world.neighbours import Address, negative_questions, parse
from world.scoring import ABSTAIN_ANSWER
from world.templates import TRAIN

ANCHOR_DOCUMENTS = 24  # general-text documents sampled for the anchor's windows


@dataclass(frozen=True)
class NightOptions:
    anchor_documents: int = ANCHOR_DOCUMENTS


def queries_for(item: TrainingItem) -> list[Query]:
    out: list[Query] = []
    for p in item.probes:
        if p.split != TRAIN:
            continue  # scoring phrasings never reach training
        if p.kind == "cloze":
            out.append(cloze_query(item.memory_id, p.prompt, p.target, value=p.answer))
        else:
            out.append(qa_query(item.memory_id, p.prompt, p.target, value=p.answer))
    return out


def overrides_for(item: TrainingItem, n: int, seed: str) -> list[Query]:
    """Per persona fact of the item, `n` chats that state another value and then ask: the teacher (with
    the memory in context) answers from the chat, so the state learns the fact as a default the
    conversation overrides, not as an answer that beats it (the context-override gate)."""
    out: list[Query] = []
    for f in item.facts:
        if ":" in f["relation"] or f["relation"] == "purchase" or not n:
            continue
        rel = relation(f["relation"])
        for k in range(n):
            rng = random.Random(f"override:{seed}:{item.memory_id}:{f['relation']}:{k}")
            o = override_chat(rng, rel, f["value"], split=TRAIN)
            messages = [*o.context, {"role": "user", "content": o.question}]
            prompt = format_messages(messages, add_generation_prompt=True)
            out.append(Query(item.memory_id, prompt, " " + o.value + ".\n\n", "override", o.value))
    return out


def addresses(item: TrainingItem) -> list[Address]:
    return [parse(f["relation"], f.get("noun")) for f in item.facts]


def negatives_for(
    items: Sequence[TrainingItem], held: Sequence[tuple[str, str]], cfg: TunerConfig, seed: str
) -> list[Query]:
    """Tonight's negative questions, each tied to the item it neighbours (free ones round-robin)."""
    if not items or not (cfg.objectives.negative and (cfg.negatives_near or cfg.negatives_free)):
        return []
    owner: dict[str, int] = {}
    tonight: list[Address] = []
    for it in items:
        for a in addresses(it):
            owner.setdefault(a.relation, it.memory_id)
            tonight.append(a)
    negs = negative_questions(
        tonight,
        split=TRAIN,
        near_per_fact=cfg.negatives_near,
        free=cfg.negatives_free * len(items),
        seed=seed,
        exclude=[parse(r, n).relation for r, n in held],
    )
    out = []
    for k, n in enumerate(negs):
        item_id = owner.get(n.near_of or "", items[k % len(items)].memory_id)
        out.append(qa_query(item_id, n.question, ABSTAIN_ANSWER, kind="negative"))
    return out


def training_set_from(
    inputs: TrainingInputs, cfg: TunerConfig, opts: NightOptions = NightOptions()
) -> TrainingSet:
    """The tuner's TrainingSet for a cycle: tonight's (or, on a rebuild, all) items and their queries,
    negative questions, replay items and theirs, and general text for the anchor."""

    def convert(items: Sequence[TrainingItem]) -> tuple[list[MemoryText], list[Query], list[TrainingItem]]:
        texts, queries, used = [], [], []
        for it in items:
            qs = queries_for(it)
            if qs:
                qs += overrides_for(it, cfg.overrides_per_fact, str(cfg.seed))
            if qs:  # an item nobody can ask about teaches nothing measurable
                texts.append(MemoryText(it.memory_id, it.text))
                queries += qs
                used.append(it)
        return texts, queries, used

    items, queries, used = convert(inputs.items)
    replay_items, replay_queries, replayed = convert(inputs.replay)
    negatives = negatives_for(used, inputs.held, cfg, seed=f"{cfg.seed}:{[it.memory_id for it in used]}")
    # Earlier facts' closest neighbours (the sister's job and city), asked again on later nights with the
    # earlier item in the teacher's context (`negatives_replay` per fact): a person learned on night 1 must
    # keep "I don't know." for her job once tonight's replay repeats her name. They join tonight's negatives
    # (their own batch share and weight); mixed into the replay share instead, they crowded out the earlier
    # facts themselves and the state forgot them (retention 0 of 3 on night 2 of bench/memory.py).
    earlier = replace(cfg, negatives_near=cfg.negatives_replay, negatives_free=0)
    negatives += negatives_for(
        replayed, inputs.held, earlier, seed=f"{cfg.seed}:replay:{[it.memory_id for it in replayed]}"
    )
    docs = general_documents(random.Random(f"anchor:{cfg.seed}"))
    general = [next(docs) for _ in range(opts.anchor_documents)] if cfg.objectives.anchor else []
    return TrainingSet(items, queries, replay_items, replay_queries, general, negatives)
