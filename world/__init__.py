"""The persona world: a seeded, deterministic simulator of a user talking to an assistant over days.

It is the ground truth for measuring memory (what the user said, what changed, what was never said),
the source of pretraining chats for the default model, and of question templates for the tuner's
self-study. Pure Python; no model needed.

Main entry points:
    simulate_world(seed, config=None, *, days=None) -> World
    export_world(world, out_dir) -> {name: path}
    iter_pretrain_chats(start_seed=1_000_000, count=None) / pretrain_texts(...)
    incontext_eval_items(seeds=range(100)) / no_context_items(items)
    score_answer(text, answer, wrong_answers=()) / is_abstention(text)
    cloze_probe(statement, answer) / cloze_probes(facts) / qa_probe_pairs(facts)
    question_templates(relation, split) / statement_templates(relation, split)
Command line: python -m world --seed 0 --days 10 --out DIR
"""

from world.export import export_world, load_questions, validate_import_record
from world.facts import RELATIONS, RELATIONS_BY_KEY, Fact, Relation
from world.pretrain_data import (
    ChatConfig,
    PersonaChat,
    RecallItem,
    chat_persona,
    incontext_eval_items,
    iter_pretrain_chats,
    make_chat,
    no_context_items,
    pretrain_texts,
)
from world.probes import ClozeProbe, QAProbe, cloze_probe, cloze_probes, qa_probe_pairs
from world.scoring import ABSTAIN_ANSWER, answer_window, is_abstention, score_answer
from world.seeds import EVAL_SEED_LIMIT, PRETRAIN_SEED_MIN
from world.simulate import (
    QUESTION_KINDS,
    Conversation,
    Day,
    Event,
    Message,
    Question,
    RecallCheck,
    World,
    WorldConfig,
    simulate_world,
    world_stats,
)
from world.templates import (
    HELDOUT,
    TRAIN,
    Template,
    question_templates,
    statement_templates,
    update_templates,
)

__all__ = [
    "ABSTAIN_ANSWER",
    "EVAL_SEED_LIMIT",
    "HELDOUT",
    "PRETRAIN_SEED_MIN",
    "QUESTION_KINDS",
    "RELATIONS",
    "RELATIONS_BY_KEY",
    "TRAIN",
    "ChatConfig",
    "ClozeProbe",
    "Conversation",
    "Day",
    "Event",
    "Fact",
    "Message",
    "PersonaChat",
    "QAProbe",
    "Question",
    "RecallCheck",
    "RecallItem",
    "Relation",
    "Template",
    "World",
    "WorldConfig",
    "answer_window",
    "chat_persona",
    "cloze_probe",
    "cloze_probes",
    "export_world",
    "incontext_eval_items",
    "is_abstention",
    "iter_pretrain_chats",
    "load_questions",
    "make_chat",
    "no_context_items",
    "pretrain_texts",
    "qa_probe_pairs",
    "question_templates",
    "score_answer",
    "simulate_world",
    "statement_templates",
    "update_templates",
    "validate_import_record",
    "world_stats",
]
