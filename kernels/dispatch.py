"""One entry point for the WKV-7 recurrence, whichever implementation runs it.

`wkv7(r, logw, k, v, a, b, state)` with r, logw, k, v, a, b: [B, T, H, N] and state [B, H, N, N] in the
[value, key] layout; returns (y [B, T, H, N], final state [B, H, N, N]). `logw` is the log of the per-key
decay (RWKV-7: -e^{-0.5}·sigmoid(d)), so that the decay itself never has to round-trip through exp/log.

Implementations:
  "sequential"  kernels.reference — the executable spec; any dtype, any device. Used for short inputs;
                a single token goes through kernels.recurrent.wkv7_one, the same update in fewer ops.
  "chunked"     kernels.chunked — batched-GEMM chunk algorithm; the CPU path for prefill and training
                (its forward-only form when no gradient is being recorded).
  "native"      kernels.native — the recurrence in C, forward only, fp32 on the CPU: what "auto" picks for
                inference (no gradient being recorded) when the kernel could be built on this machine.
  "cuda"        flash-linear-attention's `chunk_rwkv7` when tensors are on a GPU and `fla` is installed;
                otherwise the chunked algorithm runs on the GPU as plain torch ops.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Literal

import torch

from kernels import native
from kernels.chunked import wkv7_chunked, wkv7_chunked_forward
from kernels.recurrent import wkv7_one
from kernels.reference import wkv7_sequential

Impl = Literal["auto", "sequential", "chunked", "native", "cuda"]

# Below this length the chunk machinery costs more than the plain loop (measured by bench/wkv.py).
SEQUENTIAL_MAX_T = 4
DEFAULT_CHUNK_LEN = 64


def _fla_available() -> bool:
    return importlib.util.find_spec("fla") is not None


def _wkv7_fla(r, logw, k, v, a, b, state):
    from fla.ops.rwkv7 import chunk_rwkv7  # optional GPU dependency

    # FLA keeps the state as [B, H, K, V]; ours is [B, H, V, K].
    h0 = state.transpose(-1, -2).contiguous()
    y, s = chunk_rwkv7(r, logw, k, v, a, b, scale=1.0, initial_state=h0, output_final_state=True)
    return y, s.transpose(-1, -2)


def wkv7_impls() -> dict[str, Callable]:
    impls: dict[str, Callable] = {"sequential": wkv7_sequential, "chunked": wkv7_chunked}
    if native.available():
        impls["native"] = native.wkv7_native
    if torch.cuda.is_available() and _fla_available():
        impls["cuda"] = _wkv7_fla
    return impls


def wkv7(
    r: torch.Tensor,
    logw: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    state: torch.Tensor,
    *,
    impl: Impl = "auto",
    chunk_len: int = DEFAULT_CHUNK_LEN,
    decay_floor: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """decay_floor: a known lower bound of logw (RWKV-7: -e^-0.5), so the chunked path can pick its chunk
    length without a pass over the data; None to read it from `logw`."""
    B, T, H, N = r.shape
    for name, t in (("logw", logw), ("k", k), ("v", v), ("a", a), ("b", b)):
        if t.shape != r.shape:
            raise ValueError(f"wkv7: {name} has shape {tuple(t.shape)}, expected {tuple(r.shape)}")
    if state.shape != (B, H, N, N):
        raise ValueError(f"wkv7: state has shape {tuple(state.shape)}, expected {(B, H, N, N)}")

    inputs = (r, logw, k, v, a, b, state)
    recording = torch.is_grad_enabled() and any(t.requires_grad for t in inputs)
    if impl == "auto":
        if r.is_cuda:
            impl = "cuda"
        elif not recording and native.supports(*inputs) and native.available():
            impl = "native"
        elif T <= SEQUENTIAL_MAX_T:
            impl = "sequential"
        else:
            impl = "chunked"
    if impl == "native":
        if recording:
            raise ValueError("wkv7: impl='native' computes no gradients; call it under torch.no_grad()")
        return native.wkv7_native(*inputs)
    if impl == "sequential":
        if T == 1:
            y, s = wkv7_one(r[:, 0], logw[:, 0], k[:, 0], v[:, 0], a[:, 0], b[:, 0], state)
            return y.unsqueeze(1), s
        return wkv7_sequential(r, logw, k, v, a, b, state)
    if impl == "chunked":
        if recording:
            return wkv7_chunked(*inputs, chunk_len=chunk_len, decay_floor=decay_floor)
        return wkv7_chunked_forward(*inputs, chunk_len=chunk_len, decay_floor=decay_floor)
    if impl == "cuda":
        if not r.is_cuda:
            raise ValueError("wkv7: impl='cuda' needs CUDA tensors")
        if _fla_available() and r.dtype in (torch.float32, torch.bfloat16, torch.float16):
            return _wkv7_fla(r, logw, k, v, a, b, state)
        return wkv7_chunked(r, logw, k, v, a, b, state, chunk_len=chunk_len, decay_floor=decay_floor)
    raise ValueError(f"wkv7: unknown impl {impl!r}")
