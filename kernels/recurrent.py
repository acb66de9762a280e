"""One-token WKV-7 update for decoding: the recurrence of kernels.reference for T = 1, written with as
few tensor ops as possible because decode at batch 1 is dominated by per-op overhead, not arithmetic.

The two rank-1 writes (v kᵀ and sa bᵀ) are one batched GEMM: [v | sa] @ [k ; b].
"""

from __future__ import annotations

import torch


def wkv7_one(
    r: torch.Tensor,  # [B, H, N]
    logw: torch.Tensor,  # [B, H, N]
    k: torch.Tensor,  # [B, H, N]
    v: torch.Tensor,  # [B, H, N]
    a: torch.Tensor,  # [B, H, N]
    b: torch.Tensor,  # [B, H, N]
    state: torch.Tensor,  # [B, H, N, N] (value, key)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns y [B, H, N] and the new state [B, H, N, N]."""
    B, H, N = r.shape
    S = state.reshape(B * H, N, N)
    sa = torch.bmm(S, a.reshape(B * H, N, 1))  # [BH, N, 1], uses the old state
    cols = torch.cat([v.reshape(B * H, N, 1), sa], dim=2)  # [BH, N, 2]
    rows = torch.stack([k.reshape(B * H, N), b.reshape(B * H, N)], dim=1)  # [BH, 2, N]
    S = torch.baddbmm(S * torch.exp(logw).reshape(B * H, 1, N), cols, rows)
    y = torch.bmm(S, r.reshape(B * H, N, 1))  # uses the new state
    return y.view(B, H, N), S.view(B, H, N, N)
