"""Our RWKV-7 against the reference `rwkv` pip package on a random bf16 BlinkDL checkpoint."""

from __future__ import annotations

import pytest
import torch

from model.checkpoint import load_model

TOL = 1e-4  # absolute, on logits


@pytest.fixture(scope="module")
def both(tiny_bf16_pth, rwkv_pip):
    ours, info = load_model(tiny_bf16_pth)
    ref = rwkv_pip.RWKV(model=tiny_bf16_pth.removesuffix(".pth"), strategy="cpu fp32")
    return ours, ref, info


@pytest.fixture(params=["training form", "inference form"])
def parallel_form(request, both):
    """The parallel form has two implementations: the differentiable one (autograd recording: the chunked
    kernel) and the inference one (no_grad: model/prefill.py with the native or forward-only kernel).
    Tests that take this fixture check both."""
    ours = both[0]
    training = request.param == "training form"
    ours.requires_grad_(training)  # weights that want gradients make autograd record the whole forward
    try:
        with torch.set_grad_enabled(training):
            yield request.param
    finally:
        ours.requires_grad_(False)


def _tokens(n: int, seed: int, vocab: int) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (n,), generator=g).tolist()


def test_config_read_from_shapes(both):
    _, _, info = both
    c = info.config
    assert (c.n_layer, c.n_embd, c.n_head, c.head_size) == (2, 128, 2, 64)
    assert (c.d_decay, c.d_aaa, c.d_mv, c.d_gate) == (24, 20, 12, 40)


def test_prefill_64_tokens_matches(both, parallel_form):
    ours, ref, info = both
    toks = _tokens(64, seed=1, vocab=info.config.vocab_size)
    ref_logits, ref_state = ref.forward(toks, None, full_output=True)  # [T, V]
    logits, state = ours(torch.tensor([toks]))
    assert logits.shape == (1, 64, info.config.vocab_size)
    assert (logits[0] - ref_logits).abs().max().item() <= TOL
    # The state after prefill matches too (att shift, wkv, ffn shift per layer).
    for i in range(info.config.n_layer):
        assert (state.att_shift[i, 0] - ref_state[3 * i]).abs().max().item() <= TOL
        assert (state.wkv[i, 0] - ref_state[3 * i + 1]).abs().max().item() <= TOL
        assert (state.ffn_shift[i, 0] - ref_state[3 * i + 2]).abs().max().item() <= TOL


def test_32_decode_steps_carrying_state_match(both, parallel_form):
    ours, ref, info = both
    V = info.config.vocab_size
    prompt = _tokens(16, seed=2, vocab=V)
    ref_logits, ref_state = ref.forward(prompt, None)
    logits, state = ours(torch.tensor([prompt]), last_only=True)
    assert (logits[0] - ref_logits).abs().max().item() <= TOL
    for t, tok in enumerate(_tokens(32, seed=3, vocab=V)):
        ref_logits, ref_state = ref.forward([tok], ref_state)
        logits, state = ours.step(torch.tensor([tok]), state)
        err = (logits[0] - ref_logits).abs().max().item()
        assert err <= TOL, f"decode step {t}: max abs error {err:.3g}"


def test_parallel_form_matches_recurrent_form(both, parallel_form):
    ours, _, info = both
    toks = torch.tensor([_tokens(40, seed=4, vocab=info.config.vocab_size) for _ in range(3)])
    par_logits, par_state = ours(toks)
    state = ours.zero_state(3)
    steps = []
    for t in range(toks.shape[1]):
        lg, state = ours.step(toks[:, t], state)
        steps.append(lg)
    assert (torch.stack(steps, dim=1) - par_logits).abs().max().item() <= TOL
    assert (state.wkv - par_state.wkv).abs().max().item() <= TOL


def test_prefill_continues_from_a_state(both, parallel_form):
    """Splitting a prompt across two forward calls gives the same logits as one call."""
    ours, _, info = both
    toks = torch.tensor([_tokens(50, seed=5, vocab=info.config.vocab_size)])
    full, _ = ours(toks)
    first, s = ours(toks[:, :21])
    second, _ = ours(toks[:, 21:], s)
    assert (torch.cat([first, second], dim=1) - full).abs().max().item() <= TOL


def test_decode_plan_follows_weight_changes_and_copies(both):
    """The decode path caches derived weights; changing a weight or copying the model must not reuse them."""
    import copy

    ours, _, info = both
    model = copy.deepcopy(ours)
    toks = torch.tensor([_tokens(8, seed=6, vocab=info.config.vocab_size)])
    _, state = model(toks)
    before, _ = model.step(torch.tensor([3]), state)
    with torch.no_grad():
        model.blocks[1].att.w1.mul_(2.0)  # an in-place change, like an optimiser step
    after, _ = model.step(torch.tensor([3]), state)
    parallel, _ = model(torch.cat([toks, torch.tensor([[3]])], dim=1), last_only=True)
    assert not torch.equal(before, after)
    assert (after - parallel).abs().max().item() <= TOL
    clone = copy.deepcopy(model)
    with torch.no_grad():
        clone.blocks[0].att.g1.zero_()
    assert not torch.equal(clone.step(torch.tensor([3]), state)[0], model.step(torch.tensor([3]), state)[0])


def test_decode_plan_follows_a_replaced_projection(both):
    """A wrapped projection (what LoRA does) replaces a submodule: decode must use the wrapper, not the
    weight it cached from the plain Linear."""
    import copy

    ours, _, info = both
    model = copy.deepcopy(ours)
    toks = torch.tensor([_tokens(8, seed=7, vocab=info.config.vocab_size)])
    _, state = model(toks)
    before, _ = model.step(torch.tensor([5]), state)

    class Scaled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Linear) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 1.5 * self.inner(x)

    model.blocks[1].att.value = Scaled(model.blocks[1].att.value)
    assert not torch.equal(before, model.step(torch.tensor([5]), state)[0])
    _, state = model(toks)
    after, _ = model.step(torch.tensor([5]), state)
    parallel, _ = model(torch.cat([toks, torch.tensor([[5]])], dim=1), last_only=True)
    assert (after - parallel).abs().max().item() <= TOL


def test_plans_follow_a_dtype_change(both):
    """`.double()` swaps every parameter's storage without bumping its version: the inference forms must
    not keep running on the fp32 plan (they would fail on mixed dtypes, or silently lose precision)."""
    import copy

    ours, _, info = both
    model = copy.deepcopy(ours)
    toks = torch.tensor([_tokens(12, seed=8, vocab=info.config.vocab_size)])
    with torch.no_grad():
        model(toks)  # builds the plan in fp32
        model.double()
        logits, state = model(toks)
        step, _ = model.step(torch.tensor([4]), state)
    assert logits.dtype == torch.float64 and step.dtype == torch.float64
    with torch.no_grad():
        ref, _ = ours(toks)
    assert (logits.float() - ref).abs().max().item() <= TOL
