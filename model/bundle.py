"""A model together with its tokenizer: what the daemon, reflection, the tuner and eval load.

Tokenizer resolution for a checkpoint `dir/name.ext`:
  1. `dir/name.vocab.txt`, else `dir/vocab.txt` (world-vocab file format; small models such as the
     embedded default use a subset of the world vocabulary);
  2. otherwise, a checkpoint with 65530+ embedding rows uses the RWKV world tokenizer.
Anything else is refused with a clear error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from model.checkpoint import CheckpointError, CheckpointInfo, load_model, save_safetensors
from model.config import RWKV7Config
from model.random_init import random_model
from model.rwkv7 import RWKV7
from model.tokenizer import WORLD_NUM_TOKENS, TrieTokenizer, world_tokenizer, write_vocab_file


@dataclass
class ModelBundle:
    model: RWKV7
    tokenizer: TrieTokenizer
    info: CheckpointInfo

    @property
    def config(self) -> RWKV7Config:
        return self.model.config


def vocab_path_for(checkpoint: str | os.PathLike) -> Path | None:
    p = Path(checkpoint)
    for candidate in (p.with_name(p.stem + ".vocab.txt"), p.with_name("vocab.txt")):
        if candidate.is_file():
            return candidate
    return None


def tokenizer_for(checkpoint: str | os.PathLike, vocab_size: int) -> TrieTokenizer:
    vocab = vocab_path_for(checkpoint)
    if vocab is not None:
        try:
            tok = TrieTokenizer.from_file(vocab, padded_vocab_size=vocab_size)
        except ValueError as e:
            raise CheckpointError(f"{vocab}: {e}") from e
        return tok
    if vocab_size > WORLD_NUM_TOKENS:
        return world_tokenizer(vocab_size)
    raise CheckpointError(
        f"{checkpoint}: no tokenizer for a {vocab_size}-token model; put its vocabulary next to it as "
        f"{Path(checkpoint).stem}.vocab.txt"
    )


def load_bundle(path: str | os.PathLike, dtype: torch.dtype = torch.float32) -> ModelBundle:
    model, info = load_model(path, dtype)
    tok = tokenizer_for(path, model.config.vocab_size)
    if tok.vocab_size > model.config.vocab_size:
        raise CheckpointError(
            f"{path}: tokenizer has {tok.vocab_size} ids but the model only {model.config.vocab_size}"
        )
    return ModelBundle(model, tok, info)


# A byte-level vocabulary: ids 1..256 are the bytes (the same ids as the world vocabulary), 0 is EOD.
BYTE_TOKENS = [bytes([b]) for b in range(256)]

TINY_CONFIG = RWKV7Config(
    vocab_size=257, n_embd=128, n_layer=2, head_size=64, d_decay=16, d_aaa=16, d_mv=8, d_gate=32
)


def write_tiny_checkpoint(
    directory: str | os.PathLike, seed: int = 0, config: RWKV7Config = TINY_CONFIG
) -> Path:
    """A random tiny RWKV-7 (L2, C128, byte vocabulary) as safetensors + vocab file: a real, fast model for
    tests and local trials before a trained model is available."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"tiny-rwkv7-seed{seed}.safetensors"
    save_safetensors(random_model(config, seed=seed), path, {"model_id": f"tiny-rwkv7-seed{seed}"})
    write_vocab_file(BYTE_TOKENS[: config.vocab_size - 1], path.with_name(path.stem + ".vocab.txt"))
    return path
