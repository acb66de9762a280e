"""Sequential WKV-7 recurrence: the executable spec every fast path is tested against.

Per head, with the state S laid out [value i, key j] (docs/rwkv7.md §1a step 8):

    sa_t = S_{t-1} a_t                      (uses the old state)
    S_t  = S_{t-1} diag(exp(logw_t)) + v_t k_tᵀ + sa_t b_tᵀ
    y_t  = S_t r_t                          (uses the new state)

RWKV-7 calls it with a = -kk and b = kk * a_rate. Works in any floating dtype (fp64 for tests);
the arithmetic happens in the dtype of the inputs.
"""

from __future__ import annotations

import torch


def wkv7_sequential(
    r: torch.Tensor,  # [B, T, H, N]
    logw: torch.Tensor,  # [B, T, H, N] log of the per-key decay, <= 0
    k: torch.Tensor,  # [B, T, H, N]
    v: torch.Tensor,  # [B, T, H, N]
    a: torch.Tensor,  # [B, T, H, N]
    b: torch.Tensor,  # [B, T, H, N]
    state: torch.Tensor,  # [B, H, N, N]  (value, key)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns y [B, T, H, N] and the final state [B, H, N, N]."""
    T = r.shape[1]
    S = state
    w = torch.exp(logw)
    ys = []
    for t in range(T):
        sa = torch.einsum("bhij,bhj->bhi", S, a[:, t])  # [B, H, N(value)]
        S = (
            S * w[:, t, :, None, :]
            + v[:, t, :, :, None] * k[:, t, :, None, :]
            + sa[..., :, None] * b[:, t, :, None, :]
        )
        ys.append(torch.einsum("bhij,bhj->bhi", S, r[:, t]))
    y = torch.stack(ys, dim=1) if ys else r.new_zeros(r.shape)
    return y, S
