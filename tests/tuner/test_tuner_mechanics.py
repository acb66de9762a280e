"""Tuner mechanics on a tiny random model: gradients, resume after a crash, budgets, determinism."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from model.state import State
from tuner.config import ObjectiveWeights, TunerConfig
from tuner.data import MemoryText, qa_query
from tuner.loop import TrainingLoop
from tuner.tune import StateParams, build_inputs, tune
from world.scoring import ABSTAIN_ANSWER


def _random_state(model, seed: int, dtype=torch.float32) -> State:
    s = model.zero_state(1)
    g = torch.Generator().manual_seed(seed)
    return State(s.att_shift, 0.3 * torch.randn(s.wkv.shape, generator=g, dtype=dtype), s.ffn_shift)


def test_state_gradient_matches_finite_differences(tiny_random, tmp_path, night):
    model, tok = tiny_random
    model = model.double()
    try:
        cfg = TunerConfig(context_variants=1, teacher_topk=16, batch_size=2, replay_fraction=0.0,
                          objectives=ObjectiveWeights(distill=1.0, lm=0.5, anchor=1.0))  # fmt: skip
        base = model.zero_state(1)
        inputs, _ = build_inputs(model, tok, base, night, cfg, tmp_path)
        params = StateParams(
            model, _random_state(model, 0, torch.float64).to(dtype=torch.float64), tune_att_shift=True
        )
        loop = TrainingLoop(inputs, params, cfg, tmp_path / "loop", lr=0.1)
        loss, _, _ = loop.batch_loss(0)
        grads = torch.autograd.grad(loss, params.parameters())
        assert all(g.abs().sum() > 0 for g in grads)
        g = torch.Generator().manual_seed(1)
        for _ in range(3):
            dirs = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in params.parameters()]
            norm = torch.sqrt(sum((d * d).sum() for d in dirs))
            dirs = [d / norm for d in dirs]
            analytic = sum((gr * d).sum() for gr, d in zip(grads, dirs, strict=True)).item()
            eps = 1e-5
            with torch.no_grad():
                for p, d in zip(params.parameters(), dirs, strict=True):
                    p.add_(eps * d)
                plus = loop.batch_loss(0)[0].item()
                for p, d in zip(params.parameters(), dirs, strict=True):
                    p.sub_(2 * eps * d)
                minus = loop.batch_loss(0)[0].item()
                for p, d in zip(params.parameters(), dirs, strict=True):
                    p.add_(eps * d)
            numeric = (plus - minus) / (2 * eps)
            assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic)), (numeric, analytic)
    finally:
        model.float()


def test_weights_get_no_gradients(tiny_random, tmp_path, night):
    model, tok = tiny_random
    cfg = TunerConfig(steps=2, eval_every=1, checkpoint_every=100, context_variants=1, batch_size=2)
    tune(model, tok, model.zero_state(1), model.zero_state(1), night, cfg, tmp_path)
    assert all(p.grad is None and not p.requires_grad for p in model.parameters())


RESUME_SCRIPT = textwrap.dedent(
    """
    import json
    from model.bundle import TINY_CONFIG, BYTE_TOKENS
    from model.random_init import random_model
    from model.tokenizer import TrieTokenizer
    from tuner.config import TunerConfig
    from tuner.data import MemoryText, Query, TrainingSet
    from tuner.tune import tune
    d = json.loads({night!r})
    night = TrainingSet([MemoryText(**m) for m in d["items"]], [Query(**q) for q in d["queries"]],
                        general_texts=d["general_texts"])
    model = random_model(TINY_CONFIG, seed=3, perturb=True)
    vocab = {{i + 1: b for i, b in enumerate(BYTE_TOKENS)}}
    tok = TrieTokenizer(vocab, padded_vocab_size=TINY_CONFIG.vocab_size)
    cfg = TunerConfig(**{cfg!r})
    res = tune(model, tok, model.zero_state(1), model.zero_state(1), night, cfg, {work!r})
    res.state.save({work!r} + "/final.safetensors")
    print(json.dumps({{"resumed_from": res.loop.resumed_from, "best_step": res.loop.best_step}}))
    """
)


def _tune_in_a_process(night, cfg_kw, work, kill_at=None) -> subprocess.CompletedProcess:
    """One tuner run in a fresh process, as the daemon runs it (a crash and its resume are two processes)."""
    script = RESUME_SCRIPT.format(night=json.dumps(dataclasses.asdict(night)), cfg=cfg_kw, work=str(work))
    env = {k: v for k, v in os.environ.items() if k != "SLEEPD_TUNE_KILL_AT"}
    if kill_at is not None:
        env["SLEEPD_TUNE_KILL_AT"] = str(kill_at)
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )


def test_killed_tuner_resumes_to_the_same_state(tiny_random, tmp_path, night):
    model, _ = tiny_random
    cfg_kw = dict(steps=12, checkpoint_every=5, eval_every=4, context_variants=1, batch_size=4, lr=0.3)
    work = tmp_path / "killed"
    proc = _tune_in_a_process(night, cfg_kw, work, kill_at=7)
    assert proc.returncode == -9, proc.stderr[-2000:]  # SIGKILLed at step 7, after the step-5 checkpoint
    assert (work / "tune-checkpoint.pt").is_file() and not (work / "final.safetensors").exists()

    resumed_proc = _tune_in_a_process(night, cfg_kw, work)
    straight_proc = _tune_in_a_process(night, cfg_kw, tmp_path / "straight")
    assert resumed_proc.returncode == 0 and straight_proc.returncode == 0, resumed_proc.stderr[-2000:]
    resumed, straight = (json.loads(p.stdout.strip().splitlines()[-1]) for p in (resumed_proc, straight_proc))
    assert resumed["resumed_from"] == 5 and straight["resumed_from"] is None
    assert resumed["best_step"] == straight["best_step"]
    a = State.load(work / "final.safetensors").wkv
    b = State.load(tmp_path / "straight" / "final.safetensors").wkv
    assert (a - b).abs().max().item() <= 1e-6
    assert not torch.equal(b, model.zero_state(1).wkv)  # it did learn something


def test_changed_inputs_do_not_resume_a_foreign_checkpoint(tiny_random, tmp_path, night):
    model, tok = tiny_random
    cfg = TunerConfig(steps=5, checkpoint_every=5, eval_every=5, context_variants=1, batch_size=2)
    tune(model, tok, model.zero_state(1), model.zero_state(1), night, cfg, tmp_path)
    other = TunerConfig(steps=5, checkpoint_every=5, eval_every=5, context_variants=1, batch_size=2, lr=0.05)
    res = tune(model, tok, model.zero_state(1), model.zero_state(1), night, other, tmp_path)
    assert res.loop.resumed_from is None


@pytest.mark.parametrize("budget", [4.0])
def test_wall_clock_budget_is_honoured_within_ten_percent(tiny_random, tmp_path, budget, night):
    model, tok = tiny_random
    cfg = TunerConfig(
        steps=100_000,
        max_seconds=budget,
        eval_every=10,
        checkpoint_every=1000,
        context_variants=1,
        threads=1,  # one thread: step times stay even when other processes share the cores
    )
    t = time.monotonic()
    res = tune(model, tok, model.zero_state(1), model.zero_state(1), night, cfg, tmp_path)
    took = time.monotonic() - t
    assert res.loop.stopped_by == "time"
    assert 0.9 * budget <= took <= 1.1 * budget, took


def test_token_budget_and_deterministic_batches(tiny_random, tmp_path, night):
    model, tok = tiny_random
    cfg = TunerConfig(steps=1000, max_tokens=3000, eval_every=5, checkpoint_every=1000, context_variants=1)
    a = tune(model, tok, model.zero_state(1), model.zero_state(1), night, cfg, tmp_path / "a")
    b = tune(model, tok, model.zero_state(1), model.zero_state(1), night, cfg, tmp_path / "b")
    assert a.loop.stopped_by == "tokens" and a.loop.tokens >= 3000
    assert torch.equal(a.state.wkv, b.state.wkv)


def test_a_negative_about_a_replayed_item_is_read_with_that_item(tiny_random, tmp_path, night):
    """An earlier person's job ("I don't know.") trains among the night's negatives, its teacher reading
    the earlier item, never tonight's."""
    model, tok = tiny_random
    night.replay_items = [MemoryText(7, "My brother is called Tomas.")]
    night.replay_queries = [qa_query(7, "What is my brother called?", "Your brother is called Tomas.")]
    night.negatives = [
        qa_query(1, "Where does my sister live?", ABSTAIN_ANSWER, kind="negative"),
        qa_query(7, "What does my brother do for work?", ABSTAIN_ANSWER, kind="negative"),
    ]
    cfg = TunerConfig(context_variants=1)
    inputs, report = build_inputs(model, tok, model.zero_state(1), night, cfg, tmp_path)
    assert sorted(t.item_id for t in inputs.negative) == [1, 7]
    assert report["tonight"]["negatives"] == 2
    assert {t.item_id for t in inputs.replay} == {7}  # the replay share holds the earlier fact alone


def test_each_negative_comes_with_a_question_its_item_answers(tiny_random, tmp_path, night):
    model, tok = tiny_random
    night.negatives = [qa_query(1, "Where does my sister live?", ABSTAIN_ANSWER, kind="negative")]
    seen: dict[bool, tuple[int, set[str]]] = {}
    for paired in (True, False):
        cfg = TunerConfig(context_variants=1, pair_negatives=paired)
        inputs, _ = build_inputs(model, tok, model.zero_state(1), night, cfg, tmp_path / str(paired))
        loop = TrainingLoop(inputs, StateParams(model, model.zero_state(1), False), cfg, tmp_path, lr=0.1)
        _, tokens, parts = loop.batch_loss(0)
        seen[paired] = (tokens, set(parts))
    shortest = min(len(t.student_ids) for t in inputs.train)
    assert seen[True][1] == seen[False][1] == {"distill", "negative", "anchor"}
    # The same questions and negatives (drawn first, from the seed and step), anchor windows of one
    # length, plus one of the item's own questions per negative (4 in a batch of 16).
    assert seen[True][0] - seen[False][0] >= 4 * shortest


def test_earlier_nights_questions_count_in_the_snapshot_choice_when_asked(tiny_random, tmp_path, night):
    """`val_replay` puts a spread of the replay targets into the validation objective: a state that moved
    away from the base changes that term, so the chosen snapshot can no longer ignore earlier facts."""
    model, tok = tiny_random
    night.replay_items = [MemoryText(7, "My brother is called Tomas."), MemoryText(8, "My dog is Rex.")]
    night.replay_queries = [
        qa_query(7, "What is my brother called?", "Your brother is called Tomas."),
        qa_query(8, "What is my dog called?", "Your dog is called Rex."),
    ]
    moved = _random_state(model, 3)
    vals = {}
    for n in (0, 2):
        cfg = TunerConfig(context_variants=1, val_replay=n)
        inputs, _ = build_inputs(model, tok, model.zero_state(1), night, cfg, tmp_path / str(n))
        loop = TrainingLoop(inputs, StateParams(model, moved, False), cfg, tmp_path / str(n), lr=0.1)
        vals[n] = loop.val_loss()
    assert vals[2] > vals[0]  # the replay KL is positive for a state that is not the teacher


def test_the_replay_spread_reaches_every_earlier_item():
    from tuner.loop import spread

    targets = [f"item{i // 5}" for i in range(15)]  # grouped by item, as the replay targets are
    assert sorted(set(spread(targets, 3))) == ["item0", "item1", "item2"]
    assert spread(targets, 40) == targets
