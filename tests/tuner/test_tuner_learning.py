"""The tuner's learning test on the shipped tiny trained model (L2, C128): one item, "My sister is called
Ana.", tuned into the state makes the no-context cloze probe correct, and the model's general loss on
held-out text moves by less than the general gate allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus import general_documents, heldout_general_text
from eval.gates import GateConfig
from model.bpb import bits_per_byte
from model.bundle import load_bundle
from model.generate import SamplingConfig, generate
from tuner.config import ObjectiveWeights, TunerConfig
from tuner.data import MemoryText, TrainingSet, cloze_query, qa_query
from tuner.tune import tune

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "tiny-rwkv7" / "model.safetensors"
PROBE = "User: My sister is called"


@pytest.fixture(scope="module")
def tiny():
    return load_bundle(FIXTURE)


def continuation(bundle, state) -> str:
    cfg = SamplingConfig(max_tokens=4, temperature=0, stop_on_eod=False)
    return generate(bundle.model, bundle.tokenizer, PROBE, state, cfg).text


def test_one_item_is_learned_without_breaking_general_text(tiny, tmp_path):
    import random

    model = tiny.model
    zero = model.zero_state(1)
    assert not continuation(tiny, zero).startswith(" Ana")  # the base model cannot know it

    docs = general_documents(random.Random(0))
    night = TrainingSet(
        items=[MemoryText(1, "My sister is called Ana.")],
        queries=[
            cloze_query(1, PROBE, " Ana"),
            qa_query(1, "What is my sister called?", "Your sister is called Ana."),
            qa_query(1, "Who is my sister?", "Your sister is Ana."),
        ],
        general_texts=[next(docs) for _ in range(8)],
    )
    cfg = TunerConfig(
        steps=60,
        lr=0.3,
        batch_size=8,
        eval_every=20,
        checkpoint_every=1000,
        context_variants=1,
        objectives=ObjectiveWeights(distill=1.0, lm=1.0, anchor=1.0),
    )
    res = tune(model, tiny.tokenizer, zero, zero, night, cfg, tmp_path)
    assert continuation(tiny, res.state).startswith(" Ana"), continuation(tiny, res.state)

    text = heldout_general_text(20_000)
    base_bpb = bits_per_byte(model, tiny.tokenizer, text, zero)
    tuned_bpb = bits_per_byte(model, tiny.tokenizer, text, res.state)
    assert tuned_bpb <= GateConfig().general_max_ratio * base_bpb, (tuned_bpb, base_bpb)
