"""Reflection: what the state should learn tonight, and why.

redact       secrets and identifiers masked before anything is kept (counts only in reports)
segments     candidate segments from messages
salience     cheap explicit features (cues, corrections, disclosure, names, dates, ...) and small talk
slots        (subject, relation, value) facts for supersede
scorers      surprise and the judge (the model, one batched pass), the remote judge
embeddings   MiniLM vectors for novelty and near-duplicate merging
policy       combine, merge, fit the budget, plan items and supersedes
probes       cloze and QA probes per item
budget       greedy token-budget fitting
config       ReflectionConfig (the [reflection] section of config.toml)
pipeline     run_reflection, the training-set builder, forget and the rebuild flag

The main names are importable from here; they load lazily so that `import reflection.budget` (used by
reflection/locomo.py) does not pull in the model and the database.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ReflectionConfig": "reflection.config",
    "ReflectionResult": "reflection.pipeline",
    "run_reflection": "reflection.pipeline",
    "reflect_messages": "reflection.pipeline",
    "training_items": "reflection.pipeline",
    "training_set": "reflection.pipeline",
    "replay_sample": "reflection.pipeline",
    "eval_probes": "reflection.pipeline",
    "forget_memory": "reflection.pipeline",
    "rebuild_pending": "reflection.pipeline",
    "TrainingItem": "reflection.pipeline",
    "TrainingProbe": "reflection.pipeline",
    "TrainingInputs": "reflection.pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reflection' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
