"""The recurrent one-token form of RWKV-7, written for speed at batch 1.

Decode is bound by memory bandwidth for the big matrices (every weight is read once per token) and by
per-op overhead for everything else. This module keeps the op count low:
- weights that the one-token math combines are prepared once per model ("decode plan"): the six token-shift
  mixes stacked, the four LoRA down-projections stacked (zero-padded to one rank) so they are one batched
  GEMM, and the small vectors reshaped;
- functional calls instead of module calls;
- the plan is rebuilt automatically when any parameter changes (in-place optimiser steps included).
Numerically it is the same network as RWKV7.forward (tests compare them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kernels.recurrent import wkv7_one


@dataclass
class LayerPlan:
    mix: torch.Tensor  # [6, 1, C] x_r, x_w, x_k, x_v, x_a, x_g
    down: torch.Tensor  # [4, C, R] w1, a1, v1, g1 zero-padded to R columns
    ranks: tuple[int, int, int, int]
    w0: torch.Tensor  # [1, C]
    a0: torch.Tensor
    v0: torch.Tensor
    w2: torch.Tensor  # [Dw, C]
    a2: torch.Tensor
    v2: torch.Tensor
    g2: torch.Tensor
    k_k: torch.Tensor  # [1, C]
    k_a: torch.Tensor  # [1, C]
    one_minus_k_a: torch.Tensor  # [1, C]
    r_k: torch.Tensor  # [H, N]
    ffn_mix: torch.Tensor  # [1, C]


def _layer_plan(block) -> LayerPlan:
    att, ffn = block.att, block.ffn
    C = att.x_r.shape[-1]
    downs = [att.w1, att.a1, att.v1, att.g1]
    ranks = tuple(int(d.shape[1]) for d in downs)
    R = max(ranks)
    down = torch.zeros(4, C, R, dtype=att.w1.dtype, device=att.w1.device)
    for i, d in enumerate(downs):
        down[i, :, : d.shape[1]] = d.detach()
    vec = lambda p: p.detach().reshape(1, C)  # noqa: E731
    return LayerPlan(
        mix=torch.cat([att.x_r, att.x_w, att.x_k, att.x_v, att.x_a, att.x_g]).detach().view(6, 1, C),
        down=down,
        ranks=ranks,  # type: ignore[arg-type]
        w0=vec(att.w0),
        a0=vec(att.a0),
        v0=vec(att.v0),
        w2=att.w2.detach(),
        a2=att.a2.detach(),
        v2=att.v2.detach(),
        g2=att.g2.detach(),
        k_k=vec(att.k_k),
        k_a=vec(att.k_a),
        one_minus_k_a=1 - vec(att.k_a),
        r_k=att.r_k.detach(),
        ffn_mix=vec(ffn.x_k),
    )


class DecodePlan:
    """Per-model cache of LayerPlans, keyed on every parameter's version counter."""

    def __init__(self, model) -> None:
        self.model = model
        self.key: tuple | None = None
        self.layers: list[LayerPlan] = []

    def _current_key(self) -> tuple:
        return tuple((id(p), p._version) for p in self.model.parameters())

    def get(self) -> list[LayerPlan]:
        key = self._current_key()
        if key != self.key:
            self.layers = [_layer_plan(b) for b in self.model.blocks]
            self.key = key
        return self.layers


def _linear(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    # Plain Linear layers take the fast functional path; wrapped ones (LoRA during training) run as modules.
    return F.linear(x, module.weight) if type(module) is torch.nn.Linear else module(x)


def att_step(att, P: LayerPlan, x, shift, S, v_first, DECAY_SCALE: float):
    """One token through a TimeMix layer. x, shift: [B, C]; S: [B, H, N, N]."""
    B, C = x.shape
    H, N = att.n_head, att.head_size
    mixed = torch.lerp(x, shift, P.mix)  # [6, B, C]
    xr, xk = mixed[0], mixed[2]
    r = _linear(att.receptance, xr)
    k = _linear(att.key, xk)
    v = _linear(att.value, mixed[3])
    low = torch.bmm(mixed[[1, 4, 3, 5]], P.down)  # [4, B, R]: w, a, v, g down-projections
    rw, ra, rv, rg = P.ranks
    d = torch.addmm(P.w0, torch.tanh(low[0, :, :rw]), P.w2)
    a = torch.sigmoid(torch.addmm(P.a0, low[1, :, :ra], P.a2))
    g = torch.sigmoid(low[3, :, :rg]) @ P.g2
    kk = F.normalize((k * P.k_k).view(B, H, N), dim=-1, p=2.0, eps=1e-12)
    k = k * torch.addcmul(P.one_minus_k_a, a, P.k_a)  # k * (1 + (a - 1) * k_a)
    if att.layer_id == 0:
        v_first = v
    else:
        v = torch.lerp(v, v_first, torch.sigmoid(torch.addmm(P.v0, low[2, :, :rv], P.v2)))
    logw = torch.sigmoid(d).mul_(-DECAY_SCALE)
    y, S = wkv7_one(
        r.view(B, H, N), logw.view(B, H, N), k.view(B, H, N), v.view(B, H, N), -kk, kk * a.view(B, H, N), S
    )
    y = F.group_norm(y.view(B, C), H, att.ln_x.weight, att.ln_x.bias, att.ln_x.eps).view(B, H, N)
    rkr = (r * k).view(B, H, N).mul_(P.r_k).sum(dim=-1, keepdim=True)
    y = torch.addcmul(y, rkr, v.view(B, H, N)).view(B, C)
    return _linear(att.output, y * g), S, v_first


def ffn_step(ffn, P: LayerPlan, x, shift):
    h = _linear(ffn.key, torch.lerp(x, shift, P.ffn_mix))
    return _linear(ffn.value, h.relu_().square_())
