"""Shared tuner fixtures: a tiny real RWKV-7 (random weights, byte vocabulary) and a one-item night."""

from __future__ import annotations

import pytest

from model.bundle import BYTE_TOKENS, TINY_CONFIG
from model.random_init import random_model
from model.tokenizer import TrieTokenizer
from tuner.data import MemoryText, TrainingSet, cloze_query, qa_query

GENERAL = [
    "The lighthouse keeper climbed the stairs every evening and lit the lamp before the fog rolled in. " * 4,
    "Rivers carry sediment from the mountains to the sea, building deltas over thousands of years. " * 4,
]


@pytest.fixture(scope="session")
def tiny_random():
    model = random_model(TINY_CONFIG, seed=3, perturb=True)
    tok = TrieTokenizer(
        {i + 1: b for i, b in enumerate(BYTE_TOKENS)}, padded_vocab_size=TINY_CONFIG.vocab_size
    )
    return model, tok


@pytest.fixture
def night() -> TrainingSet:
    return one_item_night()


def one_item_night() -> TrainingSet:
    items = [MemoryText(1, "My sister is called Ana.")]
    queries = [
        cloze_query(1, "User: My sister is called", " Ana"),
        qa_query(1, "What is my sister called?", "Your sister is called Ana."),
    ]
    return TrainingSet(items, queries, general_texts=GENERAL)
