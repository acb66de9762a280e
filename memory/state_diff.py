"""How two memory states differ (`sleepd gen diff`): per layer, norms, cosine similarity and relative
change; and the heads of the WKV state that changed most."""

from __future__ import annotations

from typing import Any

import torch

from memory.errors import InputError
from model.state import State


def state_diff(sa: State, sb: State, *, top_heads: int = 10) -> dict[str, Any]:
    """Per-layer norms, cosine similarity and relative change between two states, and the top heads."""
    if sa.wkv.shape != sb.wkv.shape or sa.att_shift.shape != sb.att_shift.shape:
        raise InputError(f"states have different shapes ({tuple(sa.wkv.shape)} vs {tuple(sb.wkv.shape)})")
    layers = []
    heads = []
    eps = 1e-12
    for i in range(sa.n_layer):
        xa = torch.cat([t[i].reshape(-1).double() for t in (sa.att_shift, sa.wkv, sa.ffn_shift)])
        xb = torch.cat([t[i].reshape(-1).double() for t in (sb.att_shift, sb.wkv, sb.ffn_shift)])
        na, nb = float(xa.norm()), float(xb.norm())
        cos = max(-1.0, min(1.0, float(torch.dot(xa, xb) / (na * nb)))) if na > eps and nb > eps else None
        layers.append(
            {
                "layer": i,
                "norm_a": {
                    k: float(getattr(sa, k)[i].double().norm()) for k in ("att_shift", "wkv", "ffn_shift")
                },
                "norm_b": {
                    k: float(getattr(sb, k)[i].double().norm()) for k in ("att_shift", "wkv", "ffn_shift")
                },
                "cosine": cos,
                "change": float((xb - xa).norm()),
                "relative_change": float((xb - xa).norm()) / na if na > eps else None,
            }
        )
        wa, wb = sa.wkv[i].double(), sb.wkv[i].double()  # [B, H, N, N]
        for h in range(wa.shape[1]):
            d = float((wb[:, h] - wa[:, h]).norm())
            n = float(wa[:, h].norm())
            heads.append({"layer": i, "head": h, "change": d, "relative_change": d / n if n > eps else None})
    heads.sort(key=lambda x: -x["change"])
    return {"layers": layers, "heads": heads[:top_heads]}
