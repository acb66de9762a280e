"""Chunked WKV-7 against the sequential reference: outputs, final state and every gradient."""

from __future__ import annotations

import pytest
import torch

from kernels import native, wkv7
from kernels.chunked import safe_chunk_len, wkv7_chunked, wkv7_chunked_forward
from kernels.reference import wkv7_sequential

NAMES = ("r", "logw", "k", "v", "a", "b", "state")


def make_inputs(B: int, T: int, H: int, N: int, dtype: torch.dtype, seed: int = 0) -> list[torch.Tensor]:
    """Inputs shaped like RWKV-7's: decay in (e^-0.607, 1), a = -kk, b = kk * rate with unit-norm kk."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    r = rnd(B, T, H, N)
    logw = -0.6065306597 * torch.sigmoid(2 * rnd(B, T, H, N))
    k = 0.5 * rnd(B, T, H, N)
    v = rnd(B, T, H, N)
    kk = torch.nn.functional.normalize(rnd(B, T, H, N), dim=-1)
    rate = torch.sigmoid(rnd(B, T, H, N))
    state = rnd(B, H, N, N)
    return [r, logw, k, v, -kk, kk * rate, state]


def rel_err(x: torch.Tensor, ref: torch.Tensor) -> float:
    return float((x - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def run_with_grads(fn, inputs: list[torch.Tensor], seed: int = 1):
    leaves = [x.detach().clone().requires_grad_() for x in inputs]
    y, s = fn(*leaves)
    g = torch.Generator().manual_seed(seed)
    # Random cotangents so every output element contributes to the gradients.
    gy = torch.randn(y.shape, generator=g, dtype=y.dtype)
    gs = torch.randn(s.shape, generator=g, dtype=s.dtype)
    ((y * gy).sum() + (s * gs).sum()).backward()
    return y.detach(), s.detach(), [x.grad for x in leaves]


CASES = [
    # (B, T, H, N)
    (1, 1, 2, 16),  # T = 1
    (1, 45, 2, 16),  # T not a multiple of the chunk
    (3, 77, 2, 16),  # batch > 1, ragged tail
    (2, 64, 1, 64),  # head size 64, exact multiple
    (1, 1000, 2, 16),  # long sequence
]


@pytest.mark.parametrize(("B", "T", "H", "N"), CASES)
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_chunked_matches_reference(B, T, H, N, dtype, tol):
    inputs = make_inputs(B, T, H, N, dtype)
    y_ref, s_ref, g_ref = run_with_grads(wkv7_sequential, inputs)
    y, s, g = run_with_grads(wkv7_chunked, inputs)
    assert rel_err(y, y_ref) <= tol
    assert rel_err(s, s_ref) <= tol
    for name, gx, gr in zip(NAMES, g, g_ref, strict=True):
        assert gx is not None, name
        assert rel_err(gx, gr) <= tol, f"d{name}: {rel_err(gx, gr):.3g}"


@pytest.mark.parametrize(("B", "T", "H", "N"), CASES)
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_forward_only_kernel_matches_reference(B, T, H, N, dtype, tol):
    inputs = make_inputs(B, T, H, N, dtype)
    y_ref, s_ref = wkv7_sequential(*inputs)
    for decay_floor in (None, -0.6065306597):
        y, s = wkv7_chunked_forward(*inputs, decay_floor=decay_floor)
        assert rel_err(y, y_ref) <= tol
        assert rel_err(s, s_ref) <= tol


def test_dispatch_uses_the_forward_only_kernel_without_a_graph():
    inputs = make_inputs(2, 70, 2, 16, torch.float64, seed=6)  # fp64: the native kernel is fp32 only
    with torch.no_grad():
        y, s = wkv7(*inputs)
    y_fwd, s_fwd = wkv7_chunked_forward(*inputs)
    assert torch.equal(y, y_fwd) and torch.equal(s, s_fwd)
    leaves = [x.clone().requires_grad_() for x in inputs]
    y, _ = wkv7(*leaves)  # recording: the differentiable kernel
    assert y.grad_fn is not None


needs_native = pytest.mark.skipif(not native.available(), reason="no C compiler to build kernels.native")


@needs_native
@pytest.mark.parametrize(("B", "T", "H", "N"), [*CASES, (2, 33, 3, 64), (1, 300, 2, 32)])
def test_native_kernel_matches_reference(B, T, H, N):
    """fp32 C kernel against the fp64 reference (head size 64 has its own register-blocked path)."""
    inputs = make_inputs(B, T, H, N, torch.float32)
    y_ref, s_ref = wkv7_sequential(*[x.double() for x in inputs])
    state_before = inputs[6].clone()
    y, s = native.wkv7_native(*inputs)
    assert rel_err(y.double(), y_ref) <= 1e-5
    assert rel_err(s.double(), s_ref) <= 1e-5
    assert torch.equal(inputs[6], state_before)  # the input state is not modified


@needs_native
def test_dispatch_picks_the_native_kernel_for_inference_only():
    inputs = make_inputs(1, 50, 2, 64, torch.float32, seed=7)
    with torch.no_grad():
        y, s = wkv7(*inputs)
    y_nat, s_nat = native.wkv7_native(*inputs)
    assert torch.equal(y, y_nat) and torch.equal(s, s_nat)
    leaves = [x.clone().requires_grad_() for x in inputs]
    y, _ = wkv7(*leaves)
    assert y.grad_fn is not None  # training still gets the differentiable chunked kernel
    with pytest.raises(ValueError, match="no gradients"):
        wkv7(*leaves, impl="native")


def test_native_kernel_can_be_turned_off(monkeypatch):
    """SLEEPD_NATIVE_KERNEL=0 (or a machine without a compiler) falls back to the torch kernels."""
    inputs = make_inputs(1, 40, 2, 64, torch.float32, seed=8)
    y_ref, s_ref = wkv7_sequential(*inputs)
    monkeypatch.setenv("SLEEPD_NATIVE_KERNEL", "0")
    assert not native.available()
    with torch.no_grad():
        y, s = wkv7(*inputs)
    assert torch.equal(y, wkv7_chunked_forward(*inputs)[0])
    assert rel_err(y, y_ref) <= 1e-4 and rel_err(s, s_ref) <= 1e-4
    monkeypatch.delenv("SLEEPD_NATIVE_KERNEL")
    with native.disabled():
        assert not native.available()


@pytest.mark.parametrize("chunk_len", [1, 8, 16, 64])
def test_chunk_length_does_not_change_result(chunk_len):
    inputs = make_inputs(2, 70, 2, 16, torch.float64, seed=3)
    y_ref, s_ref = wkv7_sequential(*inputs)
    for kernel in (wkv7_chunked, wkv7_chunked_forward):
        y, s = kernel(*inputs, chunk_len=chunk_len)
        assert rel_err(y, y_ref) <= 1e-9
        assert rel_err(s, s_ref) <= 1e-9


def test_chunks_compose_like_the_recurrence():
    """Running [0:T1] then [T1:T] from the carried state equals one run over [0:T]."""
    inputs = make_inputs(1, 90, 2, 16, torch.float64, seed=4)
    y_all, s_all = wkv7_chunked(*inputs)
    first = [x[:, :37] for x in inputs[:6]] + [inputs[6]]
    y1, s1 = wkv7_chunked(*first)
    second = [x[:, 37:] for x in inputs[:6]] + [s1]
    y2, s2 = wkv7_chunked(*second)
    assert rel_err(torch.cat([y1, y2], dim=1), y_all) <= 1e-12
    assert rel_err(s2, s_all) <= 1e-12


def test_strong_decay_shrinks_chunk_and_stays_finite():
    inputs = make_inputs(1, 200, 1, 16, torch.float32, seed=5)
    inputs[1] = inputs[1] * 20  # decay far stronger than RWKV-7 allows
    assert safe_chunk_len(inputs[1], 32) < 32
    y_ref, s_ref = wkv7_sequential(*inputs)
    for kernel in (wkv7_chunked, wkv7_chunked_forward):
        y, s = kernel(*inputs)
        assert torch.isfinite(y).all() and torch.isfinite(s).all()
        assert rel_err(y, y_ref) <= 1e-4
        assert rel_err(s, s_ref) <= 1e-4


def test_dispatch_routes_and_validates():
    inputs = make_inputs(1, 50, 2, 16, torch.float64)
    y_ref, s_ref = wkv7_sequential(*inputs)
    for impl in ("auto", "sequential", "chunked"):
        y, s = wkv7(*inputs, impl=impl)
        assert rel_err(y, y_ref) <= 1e-9 and rel_err(s, s_ref) <= 1e-9
    with pytest.raises(ValueError, match="state has shape"):
        wkv7(*inputs[:6], inputs[6][:, :1])
    with pytest.raises(ValueError, match="unknown impl"):
        wkv7(*inputs, impl="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs CUDA"):
        wkv7(*inputs, impl="cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path_matches_reference():
    inputs = make_inputs(2, 256, 4, 64, torch.float32)
    y_ref, s_ref, g_ref = run_with_grads(wkv7_sequential, inputs)
    cuda_inputs = [x.cuda() for x in inputs]
    y, s, g = run_with_grads(lambda *a: wkv7(*a, impl="cuda"), cuda_inputs)
    assert rel_err(y.cpu(), y_ref) <= 1e-3
    assert rel_err(s.cpu(), s_ref) <= 1e-3
    for name, gx, gr in zip(NAMES, g, g_ref, strict=True):
        assert rel_err(gx.cpu(), gr) <= 1e-3, name


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_one_token_step_matches_reference(dtype):
    from kernels.recurrent import wkv7_one

    def one_step(r, logw, k, v, a, b, state):
        y, s = wkv7_one(r[:, 0], logw[:, 0], k[:, 0], v[:, 0], a[:, 0], b[:, 0], state)
        return y.unsqueeze(1), s

    inputs = make_inputs(3, 1, 2, 64, dtype, seed=6)
    y_ref, s_ref, g_ref = run_with_grads(wkv7_sequential, inputs)
    y, s, g = run_with_grads(one_step, inputs)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert rel_err(y, y_ref) <= tol and rel_err(s, s_ref) <= tol
    for name, gx, gr in zip(NAMES, g, g_ref, strict=True):
        assert rel_err(gx, gr) <= tol, name
