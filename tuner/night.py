"""From tonight's reflection output to the tuner's inputs, and the tuning step of a sleep cycle.

Queries per memory item:
- its probes of the "train" split (cloze and QA, from reflection);
- self-study questions: for items with a known slot (sister, city, employer, ...), extra questions written
  from the persona world's *training* question templates (the models sleepd ships are too small to write
  good questions about their own memories; phrasings used for scoring are never used here).
General text for the anchor term comes from the training corpus, never from the gate's held-out suite.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from eval.world.probes import qa_probe_pairs
from eval.world.templates import TRAIN
from reflection.pipeline import TrainingInputs, TrainingItem
from reflection.slots import WORLD_RELATIONS
from tuner.config import TunerConfig
from tuner.corpus import general_documents
from tuner.data import MemoryText, Query, TrainingSet, cloze_query, qa_query

ANCHOR_DOCUMENTS = 24  # general-text documents sampled for the anchor's windows


@dataclass(frozen=True)
class NightOptions:
    self_study_per_item: int = 3
    anchor_documents: int = ANCHOR_DOCUMENTS


def queries_for(item: TrainingItem, opts: NightOptions, seed: int) -> list[Query]:
    out: list[Query] = []
    for p in item.probes:
        if p.split != TRAIN:
            continue  # scoring phrasings never reach training
        if p.kind == "cloze":
            out.append(cloze_query(item.memory_id, p.prompt, p.target))
        else:
            out.append(qa_query(item.memory_id, p.prompt, p.target))
    key = WORLD_RELATIONS.get(item.relation or "")
    if key and item.value and opts.self_study_per_item:
        pairs = qa_probe_pairs(
            {key: item.value}, seed=seed + item.memory_id, per_fact=opts.self_study_per_item
        )
        out += [qa_query(item.memory_id, qa.question, qa.reply, kind="self_study") for qa in pairs]
    return out


def training_set_from(
    inputs: TrainingInputs, cfg: TunerConfig, opts: NightOptions = NightOptions()
) -> TrainingSet:
    """The tuner's TrainingSet for a cycle: tonight's (or, on a rebuild, all) items and their queries,
    replay items and theirs, and general text for the anchor."""

    def convert(items: Sequence[TrainingItem]) -> tuple[list[MemoryText], list[Query]]:
        texts, queries = [], []
        for it in items:
            qs = queries_for(it, opts, cfg.seed)
            if qs:  # an item nobody can ask about teaches nothing measurable
                texts.append(MemoryText(it.memory_id, it.text))
                queries += qs
        return texts, queries

    items, queries = convert(inputs.items)
    replay_items, replay_queries = convert(inputs.replay)
    docs = general_documents(random.Random(f"anchor:{cfg.seed}"))
    general = [next(docs) for _ in range(opts.anchor_documents)] if cfg.objectives.anchor else []
    return TrainingSet(items, queries, replay_items, replay_queries, general)
