"""The recurrent one-token form of RWKV-7, written for speed at batch 1.

Decode is bound by memory bandwidth for the big matrices (every weight is read once per token) and by
per-op and Python overhead for everything else (about 50 small ops per layer). This module keeps both low:
- what a layer needs is prepared once per model ("decode plan"): the six token-shift mixes stacked into
  one lerp, the small vectors reshaped, and every tensor and module held as a plain attribute (an
  nn.Module attribute lookup costs more than many of the ops it feeds);
- the plan is checked with one pass over the exact slots it was built from, and rebuilt when any of them
  was replaced (a LoRA wrapper, a reloaded weight) or changed in place (an optimiser step);
- the WKV update writes the new state straight into the stacked output state (no per-layer stack copy),
  and the delta-rule removal folds its sign into the GEMM (no negation op).
Numerically it is the same network as RWKV7.forward (tests compare them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kernels import native


@dataclass
class LayerPlan:
    layer_id: int
    n_head: int
    head_size: int
    ln1: tuple[torch.Tensor, torch.Tensor, float]  # weight, bias, eps
    ln2: tuple[torch.Tensor, torch.Tensor, float]
    mix: torch.Tensor  # [6, 1, C] x_r, x_k, x_w, x_a, x_v, x_g
    w1: torch.Tensor  # [C, Dw] LoRA down-projections (read exactly: no padding to a common rank)
    a1: torch.Tensor
    v1: torch.Tensor
    g1: torch.Tensor
    w2: torch.Tensor  # [Dw, C] LoRA up-projections
    a2: torch.Tensor
    v2: torch.Tensor
    g2: torch.Tensor
    w0: torch.Tensor  # [1, C]
    a0: torch.Tensor
    v0: torch.Tensor
    k_k: torch.Tensor  # [1, C]
    k_a: torch.Tensor  # [1, C]
    one_minus_k_a: torch.Tensor  # [1, C]
    r_k: torch.Tensor  # [H, N, 1]
    ln_x: tuple[torch.Tensor, torch.Tensor, float]
    # A plain Linear is held as its weight (functional call); a wrapped one (LoRA) as the module.
    receptance: torch.Tensor | nn.Module
    key: torch.Tensor | nn.Module
    value: torch.Tensor | nn.Module
    output: torch.Tensor | nn.Module
    ffn_mix: torch.Tensor  # [1, C]
    ffn_key: torch.Tensor | nn.Module
    ffn_value: torch.Tensor | nn.Module


def _proj(module: nn.Module) -> torch.Tensor | nn.Module:
    return module.weight if type(module) is nn.Linear else module


def _ln(norm: nn.LayerNorm | nn.GroupNorm) -> tuple[torch.Tensor, torch.Tensor, float]:
    return norm.weight, norm.bias, norm.eps


def _layer_plan(block) -> LayerPlan:
    att, ffn = block.att, block.ffn
    C = att.x_r.shape[-1]
    vec = lambda p: p.detach().reshape(1, C)  # noqa: E731
    return LayerPlan(
        layer_id=att.layer_id,
        n_head=att.n_head,
        head_size=att.head_size,
        ln1=_ln(block.ln1),
        ln2=_ln(block.ln2),
        mix=torch.cat([att.x_r, att.x_k, att.x_w, att.x_a, att.x_v, att.x_g]).detach().view(6, 1, C),
        w1=att.w1.detach(),
        a1=att.a1.detach(),
        v1=att.v1.detach(),
        g1=att.g1.detach(),
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
        r_k=att.r_k.detach().unsqueeze(-1),
        ln_x=_ln(att.ln_x),
        receptance=_proj(att.receptance),
        key=_proj(att.key),
        value=_proj(att.value),
        output=_proj(att.output),
        ffn_mix=vec(ffn.x_k),
        ffn_key=_proj(ffn.key),
        ffn_value=_proj(ffn.value),
    )


def _slots(model: nn.Module) -> tuple[list[tuple[dict, str]], list[tuple[dict, str]]]:
    """Every (container, name) a plan reads: the parameters, and the submodules, of all blocks."""
    params, modules = [], []
    for module in model.blocks.modules():
        params += [(module._parameters, n) for n, p in module._parameters.items() if p is not None]
        modules += [(module._modules, name) for name in module._modules]
    return params, modules


class DecodePlan:
    """Per-model cache of LayerPlans, keyed on the identity and version counter of everything they read."""

    def __init__(self, model) -> None:
        self.model = model
        self.params: list[tuple[dict, str]] = []
        self.modules: list[tuple[dict, str]] = []
        self.key: tuple[list, list] | None = None
        self.layers: list[LayerPlan] = []

    def _current_key(self) -> tuple[list, list]:
        # Parameters carry a version counter that in-place updates bump; `.to()`/`.double()` swap a
        # parameter's storage without bumping it, hence the data pointer. Submodules only an identity.
        return (
            [(id(p := d[n]), p._version, p.data_ptr()) for d, n in self.params],
            [id(d[n]) for d, n in self.modules],
        )

    def get(self) -> list[LayerPlan]:
        if self.key is None or self._current_key() != self.key:
            self.params, self.modules = _slots(self.model)  # the tree may have changed (LoRA wrappers)
            self.layers = [_layer_plan(b) for b in self.model.blocks]
            self.key = self._current_key()
        return self.layers


def _apply(proj: torch.Tensor | nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, proj) if isinstance(proj, torch.Tensor) else proj(x)


def layer_step(
    P: LayerPlan,
    x: torch.Tensor,  # [B, C] residual stream
    att_shift: torch.Tensor,  # [B, C] previous token's LN1 output
    S: torch.Tensor,  # [B, H, N, N] WKV state entering the token (not modified)
    ffn_shift: torch.Tensor,  # [B, C] previous token's LN2 output
    v_first: torch.Tensor | None,
    S_out: torch.Tensor,  # [B, H, N, N] receives the new WKV state
    decay_scale: float,
    native_wkv: bool = False,  # run the WKV update in kernels.native (fp32 CPU, when it is available)
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One token through one block. Returns (x, LN1 output, LN2 output, v_first); the new state is S_out."""
    B, C = x.shape
    H, N = P.n_head, P.head_size
    # torch.* calls rather than F.* wrappers: the wrappers' argument checks cost more than these tiny ops.
    xa = torch.layer_norm(x, (C,), *P.ln1)
    mixed = torch.lerp(xa, att_shift, P.mix)  # [6, B, C]
    mr, mk, mw, ma, mv, mg = mixed.unbind(0)
    lw, la, lv, lg = mw @ P.w1, ma @ P.a1, mv @ P.v1, mg @ P.g1  # LoRA down-projections
    r = _apply(P.receptance, mr)
    k = _apply(P.key, mk)
    v = _apply(P.value, mv)
    d = torch.addmm(P.w0, torch.tanh(lw), P.w2)
    a = torch.sigmoid(torch.addmm(P.a0, la, P.a2))
    g = torch.sigmoid(lg) @ P.g2
    kk = (k * P.k_k).view(B * H, N)  # removal key, L2-normalised per head as F.normalize does  [BH, N]
    kk = kk / torch.linalg.vector_norm(kk, dim=-1, keepdim=True).clamp_min_(1e-12)
    k = k * torch.addcmul(P.one_minus_k_a, a, P.k_a)  # k * (1 + (a - 1) * k_a)
    if P.layer_id == 0:
        v_first = v
    else:
        v = torch.lerp(v, v_first, torch.sigmoid(torch.addmm(P.v0, lv, P.v2)))

    # WKV: S' = S diag(w) - (S kk)(kk a)ᵀ + v kᵀ ;  y = S' r.   [BH, N(value), N(key)]
    if native_wkv:  # the C kernel: one pass over the state
        y, _ = native.wkv7_native(
            r.view(B, 1, H, N),
            torch.sigmoid(d).mul_(-decay_scale).view(B, 1, H, N),
            k.view(B, 1, H, N),
            v.view(B, 1, H, N),
            kk.neg().view(B, 1, H, N),
            (kk * a.view(B * H, N)).view(B, 1, H, N),
            S,
            out_state=S_out,
        )
    else:
        w = torch.sigmoid(d).mul_(-decay_scale).exp_().view(B * H, 1, N)
        S = S.view(B * H, N, N)
        S_new = torch.mul(S, w, out=S_out.view(B * H, N, N))
        S_kk = torch.bmm(S, kk.unsqueeze(-1))  # [BH, N, 1], from the old state
        S_new.baddbmm_(S_kk, (kk * a.view(B * H, N)).unsqueeze(1), alpha=-1.0)
        S_new.baddbmm_(v.view(B * H, N, 1), k.view(B * H, 1, N))
        y = torch.bmm(S_new, r.view(B * H, N, 1))  # [BH, N, 1]

    y = torch.group_norm(y.view(B, C), H, *P.ln_x)
    # Bonus: the current token bypasses the state, u_h = (Σ_n r k r_k) v_h.
    rk = (r * k).view(B, H, 1, N)
    rkr = torch.bmm(rk[0], P.r_k) if B == 1 else torch.matmul(rk, P.r_k)  # [(B,) H, 1, 1]
    y = torch.addcmul(y.view(B, H, N), rkr.view(B, H, 1), v.view(B, H, N)).view(B, C)
    x = x + _apply(P.output, y * g)

    xf = torch.layer_norm(x, (C,), *P.ln2)
    h = _apply(P.ffn_key, torch.lerp(xf, ffn_shift, P.ffn_mix))
    x = x + _apply(P.ffn_value, h.relu_().square_())
    return x, xa, xf, v_first
