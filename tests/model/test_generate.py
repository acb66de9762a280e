"""Generation: greedy equals argmax decoding, sampling is seeded, stop strings and budgets hold."""

from __future__ import annotations

import pytest
import torch

from model.checkpoint import load_model
from model.generate import Generation, SamplingConfig, generate, sample_token
from model.tokenizer import TrieTokenizer


@pytest.fixture(scope="module")
def model(tiny_bf16_pth):
    return load_model(tiny_bf16_pth)[0]


@pytest.fixture(scope="module")
def tok():
    # A byte-level vocabulary that matches the tiny model's 1024 rows (ids 1..256 = bytes).
    return TrieTokenizer({i + 1: bytes([i]) for i in range(256)}, padded_vocab_size=1024)


def test_greedy_matches_manual_argmax_loop(model, tok):
    prompt = tok.encode("Hello")
    res = generate(model, tok, prompt, config=SamplingConfig(max_tokens=12, temperature=0, stop_on_eod=False))
    with torch.no_grad():  # generation's prefill is the no-graph form; the same here, for bit equality
        logits, state = model(torch.tensor([prompt]), last_only=True)
    ids = []
    for _ in range(12):
        t = int(logits[0, :257].argmax())  # rows above 256 have no token and are masked
        ids.append(t)
        logits, state = model.step(torch.tensor([t]), state)
    assert res.token_ids == ids
    assert res.finish_reason == "length" and res.prompt_tokens == len(prompt)
    assert torch.equal(res.state.wkv, state.wkv)


def test_sampling_is_deterministic_given_seed(model, tok):
    cfg = SamplingConfig(max_tokens=20, temperature=1.0, top_p=0.9, seed=7, stop_on_eod=False)
    a = generate(model, tok, "abc", config=cfg)
    b = generate(model, tok, "abc", config=cfg)
    c = generate(
        model, tok, "abc", config=SamplingConfig(max_tokens=20, temperature=1.0, seed=8, stop_on_eod=False)
    )
    assert a.token_ids == b.token_ids
    assert a.token_ids != c.token_ids


def test_generation_starts_from_the_given_state(model, tok):
    cfg = SamplingConfig(max_tokens=8, temperature=0, stop_on_eod=False)
    _, s = model(torch.tensor([tok.encode("some earlier context")]))
    with_state = generate(model, tok, "x", state=s, config=cfg)
    split = generate(model, tok, "some earlier contextx", config=cfg)
    assert with_state.token_ids == split.token_ids


def test_top_k_and_top_p_restrict_support():
    logits = torch.tensor([5.0, 4.0, 1.0, 0.0, -1.0])
    g = torch.Generator().manual_seed(0)
    seen = {sample_token(logits, SamplingConfig(top_k=2), g) for _ in range(200)}
    assert seen <= {0, 1} and len(seen) == 2
    seen = {sample_token(logits, SamplingConfig(top_p=0.5), g) for _ in range(50)}
    assert seen == {0}  # the top token alone already holds > 50% of the mass


@pytest.mark.parametrize("top_p", [5e-324, 1e-12, 1e-7])
def test_a_vanishing_top_p_keeps_the_most_likely_token(top_p):
    # Found by the API fuzzer: rounding in the cumulative sum dropped even the top token (a 500).
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1000, generator=g) * 3
    for _ in range(20):
        assert sample_token(logits, SamplingConfig(temperature=1.0, top_p=top_p), g) == int(logits.argmax())


def test_stop_string_cuts_and_streaming_never_leaks_it(model, tok):
    cfg = SamplingConfig(max_tokens=40, temperature=0, stop_on_eod=False)
    free = generate(model, tok, "Hi", config=cfg).text
    assert len(free) > 6
    stop = free[3:5]  # a stop string the model will certainly produce
    gen = Generation(
        model, tok, "Hi", config=SamplingConfig(max_tokens=40, temperature=0, stop=(stop,), stop_on_eod=False)
    )
    deltas = list(gen)
    assert gen.result.finish_reason == "stop"
    assert "".join(deltas) == gen.result.text == free[: free.index(stop)]
    assert all(stop not in d for d in deltas)


def test_streamed_deltas_concatenate_to_result(model, tok):
    gen = Generation(
        model, tok, "Q", config=SamplingConfig(max_tokens=30, temperature=0.8, seed=3, stop_on_eod=False)
    )
    deltas = list(gen)
    assert "".join(deltas) == gen.result.text == tok.decode(gen.result.token_ids)


@pytest.mark.parametrize("bad", [dict(temperature=-1), dict(top_p=0), dict(top_k=-1), dict(max_tokens=-1)])
def test_bad_sampling_config_is_refused(bad):
    with pytest.raises(ValueError):
        SamplingConfig(**bad)


def test_padding_rows_are_never_sampled(model, tok):
    # 767 of the tiny model's 1024 logit rows have no token; even hot sampling must avoid them.
    res = generate(
        model, tok, "z", config=SamplingConfig(max_tokens=200, temperature=5.0, seed=1, stop_on_eod=False)
    )
    assert all(0 <= t <= 256 for t in res.token_ids)


def test_batched_greedy_decoding_gives_the_replies_of_one_by_one():
    from model.bundle import load_bundle
    from model.chat_format import STOP_STRINGS, format_messages
    from model.default_model import default_model_path
    from model.generate import SamplingConfig, generate, generate_greedy_batch

    bundle = load_bundle(default_model_path())
    chats = [
        [
            {"role": "user", "content": "My sister is called Ottilie."},
            {"role": "assistant", "content": "Got it."},
        ],
        [],
        [{"role": "user", "content": "I live in Ljubljana."}, {"role": "assistant", "content": "Noted!"}],
    ]
    questions = ["What's my sister's name?", "Where do I live?", "Tell me a joke.", "What is my dog called?"]
    prompts = [format_messages([*c, {"role": "user", "content": q}], True) for c in chats for q in questions]
    prompts.append("User: My sister is called")  # a plain continuation, and prompts of many lengths
    cfg = SamplingConfig(max_tokens=24, temperature=0.0, stop=(*STOP_STRINGS, "\n"))
    state = bundle.model.zero_state(1)
    one_by_one = [generate(bundle.model, bundle.tokenizer, p, state, cfg).text for p in prompts]
    assert (
        generate_greedy_batch(bundle.model, bundle.tokenizer, prompts, state, cfg, batch_size=5) == one_by_one
    )
