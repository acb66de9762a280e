"""The embedded default model: a small RWKV-7 trained by `python -m pretrain` and shipped in
model/default/ (model.safetensors, vocab.txt, MODEL_CARD.md, training.json)."""

from __future__ import annotations

from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parent / "default"
DEFAULT_MODEL_ID = "sleepd-rwkv7-default"


def default_model_path() -> Path:
    """Path of the shipped checkpoint. Raises FileNotFoundError when this install has none."""
    path = DEFAULT_DIR / "model.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"the embedded default model is missing ({path})")
    return path
