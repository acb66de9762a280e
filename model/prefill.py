"""The parallel form of RWKV-7 for inference (prefill, scoring): no autograd graph, fewer passes over memory.

Training needs `TimeMix.forward`/`ChannelMix.forward`, written so that autograd can differentiate them.
Prefill computes the same function but keeps nothing for a backward pass, so it can:
- read the layer's tensors from the decode plan (plain attributes, no module lookups);
- update intermediates in place (decay, rates, keys, the value residual, the bonus, the gate) instead of
  allocating a new [T, C] tensor for every step;
- run the WKV recurrence through the dispatch without a graph: the C kernel (kernels.native) where it
  could be built, else the forward-only chunked kernel with RWKV-7's decay bound;
- with last_only (a prefill that wants the next token only), run the final block's output projection
  and channel mix at the last position alone.
Numerically it is the network of model/rwkv7.py (tests compare the two and the decode form).
"""

from __future__ import annotations

import torch

from kernels import wkv7
from model.decode import LayerPlan, _apply


def _shifted(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """The previous token's row for every position: [shift, x[:, :-1]]  ([B, T, C])."""
    prev = torch.empty_like(x)
    prev[:, 0] = shift
    prev[:, 1:] = x[:, :-1]
    return prev


@torch.no_grad()
def layer_prefill(
    P: LayerPlan,
    x: torch.Tensor,  # [B, T, C] residual stream, updated in place
    att_shift: torch.Tensor,  # [B, C] LN1 output of the token before x[:, 0]
    S: torch.Tensor,  # [B, H, N, N] WKV state entering the sequence (not modified)
    ffn_shift: torch.Tensor,  # [B, C]
    v_first: torch.Tensor | None,  # [B*T, C] layer 0's value
    decay_scale: float,
    last_only: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One block over a sequence. Returns (x, last LN1 row, new WKV state, last LN2 row, v_first).

    last_only: the caller needs this block's output at the last position only (the final block of a
    prefill that wants the next token's logits): the state still takes every position, but the output
    projection and the whole channel mix run on one row ([B, 1, C] comes back)."""
    B, T, C = x.shape
    H, N = P.n_head, P.head_size
    BT = B * T
    xa = torch.layer_norm(x, (C,), *P.ln1)
    mixed = torch.lerp(xa.view(1, BT, C), _shifted(xa, att_shift).view(1, BT, C), P.mix)  # [6, BT, C]
    mr, mk, mw, ma, mv, mg = mixed.unbind(0)
    r = _apply(P.receptance, mr)
    k = _apply(P.key, mk)
    v = _apply(P.value, mv)
    logw = torch.addmm(P.w0, torch.tanh(mw @ P.w1), P.w2).sigmoid_().mul_(-decay_scale)  # log decay
    a = torch.addmm(P.a0, ma @ P.a1, P.a2).sigmoid_()  # in-context learning rate
    g = torch.sigmoid(mg @ P.g1) @ P.g2

    kk = (k * P.k_k).view(BT, H, N)  # removal key, L2-normalised per head
    kk.div_(torch.linalg.vector_norm(kk, dim=-1, keepdim=True).clamp_min_(1e-12))
    k.mul_(torch.addcmul(P.one_minus_k_a, a, P.k_a))  # k * (1 + (a - 1) k_a)
    if P.layer_id == 0:
        v_first = v
    else:
        assert v_first is not None
        v = torch.lerp(v, v_first, torch.addmm(P.v0, mv @ P.v1, P.v2).sigmoid_())

    b = kk.view(BT, C) * a  # replacement-rate key
    y, S_new = wkv7(
        r.view(B, T, H, N),
        logw.view(B, T, H, N),
        k.view(B, T, H, N),
        v.view(B, T, H, N),
        kk.neg_().view(B, T, H, N),
        b.view(B, T, H, N),
        S,
        decay_floor=-decay_scale,
    )
    if last_only:
        # From here on only the last position matters, and the row before it for the channel mix's shift.
        keep = min(T, 2)
        x, y, r, k, v, g = (t.reshape(B, T, -1)[:, -keep:] for t in (x, y, r, k, v, g))
        ffn_shift = ffn_shift if keep == 1 else None
        T, BT = keep, B * keep
    y = torch.group_norm(y.reshape(BT, C), H, *P.ln_x)
    # Bonus: the current token bypasses the state, u_h = (Σ_n r k r_k) v_h.
    rkr = (r * k).reshape(BT, H, N).mul_(P.r_k.view(1, H, N)).sum(dim=-1, keepdim=True)  # [BT, H, 1]
    y.view(BT, H, N).addcmul_(rkr, v.reshape(BT, H, N))
    x = x + _apply(P.output, y.mul_(g.reshape(BT, C))).view(B, T, C)

    xf = torch.layer_norm(x, (C,), *P.ln2)
    if last_only:
        prev = xf[:, :1] if ffn_shift is None else ffn_shift.unsqueeze(1)  # [B, 1, C]
        x, xf = x[:, -1:], xf[:, -1:]
    else:
        prev = _shifted(xf, ffn_shift)
    h = _apply(P.ffn_key, torch.lerp(xf, prev, P.ffn_mix))
    x.add_(_apply(P.ffn_value, h.relu_().square_()).view(x.shape))
    return x, xa[:, -1], S_new, xf[:, -1], v_first
