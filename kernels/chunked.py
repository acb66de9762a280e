"""Chunked WKV-7 for the CPU: the recurrence rewritten as batched matrix products.

Derivation in ../shared/reference/rwkv7.md §5 (DPLR / WY form). Per head, with the state S [value, key]
entering a chunk of L steps, Λ_t = Σ_{s<=t} logw_s (inclusive, per key channel), Λ⁻_t = Λ_t - logw_t:

    A_ak[t,s] = Σ_c a_t k_s e^{Λ⁻_t-Λ_s}   (s < t)     A_rk[t,s] = Σ_c r_t k_s e^{Λ_t-Λ_s}   (s <= t)
    A_ab[t,s] = Σ_c a_t b_s e^{Λ⁻_t-Λ_s}   (s < t)     A_rb[t,s] = Σ_c r_t b_s e^{Λ_t-Λ_s}   (s <= t)

    (I - A_ab) SA = Â S0ᵀ + A_ak V         (SA_t = S_{t-1} a_t, Â_t = a_t e^{Λ⁻_t})
    Y             = R̂ S0ᵀ + A_rk V + A_rb SA                       (R̂_t = r_t e^{Λ_t})
    S_L           = S0 e^{Λ_L} + Vᵀ K̃ + SAᵀ B̃                      (K̃_s = k_s e^{Λ_L-Λ_s}, B̃ likewise)

Solving the unit-triangular system once for both right-hand sides, W = (I-A_ab)⁻¹Â and
U = (I-A_ab)⁻¹A_ak V, makes everything that does not involve S0 independent of the other chunks:

    Y_c     = Q_c S0ᵀ + O_c          Q = R̂ + A_rb W,      O = A_rk V + A_rb U
    S_next  = S0 M_c + D_c           M = diag(e^{Λ_L}) + Wᵀ B̃,  D = Vᵀ K̃ + Uᵀ B̃

So all chunks are processed at once as batched GEMMs, and only `S <- S M_c + D_c` runs sequentially.

Numerics: the pair products e^{Λ_t-Λ_s} are factorised as e^{Λ_t-m}·e^{m-Λ_s} around the chunk's middle
prefix m, so each factor stays within e^{±|logw|_max·L/2}. RWKV-7 clamps logw >= -e^{-0.5} (~-0.607), which
at L=32 bounds the factors by about e^{9.7}: safe in fp32. The chunk length is shortened automatically
for inputs with stronger decay. Everything is plain differentiable torch, so autograd provides
gradients for every input and for the initial state.
"""

from __future__ import annotations

import torch

# Largest |exponent| allowed for one factor of the factorised decay product. e^30 ~ 1e13 leaves fp32
# (max ~3e38) plenty of headroom for the products and sums that follow.
_MAX_HALF_EXPONENT = 30.0


def safe_chunk_len(logw: torch.Tensor, chunk_len: int) -> int:
    """Shrink the chunk if the decay is strong enough to overflow the factorised exponent."""
    worst = float(-logw.detach().min()) if logw.numel() else 0.0
    L = chunk_len
    while L > 1 and worst * (L / 2 + 1) > _MAX_HALF_EXPONENT:
        L //= 2
    return L


def wkv7_chunked(
    r: torch.Tensor,  # [B, T, H, N]
    logw: torch.Tensor,  # [B, T, H, N] log decay, <= 0
    k: torch.Tensor,  # [B, T, H, N]
    v: torch.Tensor,  # [B, T, H, N]
    a: torch.Tensor,  # [B, T, H, N]
    b: torch.Tensor,  # [B, T, H, N]
    state: torch.Tensor,  # [B, H, N, N]  (value, key)
    chunk_len: int = 32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns y [B, T, H, N] and the final state [B, H, N, N]; same contract as wkv7_sequential."""
    B, T, H, N = r.shape
    if T == 0:
        return r.new_zeros(r.shape), state
    L = safe_chunk_len(logw, chunk_len)
    nC = -(-T // L)
    pad = nC * L - T

    def prep(x: torch.Tensor) -> torch.Tensor:
        # [B, T, H, N] -> [B, H, nC, L, N]; padded steps have decay 1 (logw 0) and write nothing.
        if pad:
            x = torch.nn.functional.pad(x, (0, 0, 0, 0, 0, pad))
        return x.view(B, nC, L, H, N).permute(0, 3, 1, 2, 4)

    r_, lw, k_, v_, a_, b_ = (prep(x) for x in (r, logw, k, v, a, b))

    lam = torch.cumsum(lw, dim=-2)  # Λ_t, inclusive       [B, H, nC, L, N]
    lam_ex = lam - lw  # Λ⁻_t, exclusive
    lam_end = lam[..., -1:, :]  # Λ_L                       [B, H, nC, 1, N]
    mid = lam[..., L // 2 : L // 2 + 1, :]  # centring point m   [B, H, nC, 1, N]

    # Factorised pair terms (bounded by the centring, see module docstring).
    r_hat = r_ * torch.exp(lam - mid)
    a_hat = a_ * torch.exp(lam_ex - mid)
    k_inv = k_ * torch.exp(mid - lam)
    b_inv = b_ * torch.exp(mid - lam)

    incl = torch.ones(L, L, dtype=torch.bool, device=r.device).tril()
    strict = torch.ones(L, L, dtype=torch.bool, device=r.device).tril(-1)
    kb_inv = torch.cat([k_inv, b_inv], dim=-2)  # [B, H, nC, 2L, N]
    A_r = (r_hat @ kb_inv.transpose(-1, -2)).masked_fill(~incl.repeat(1, 2), 0.0)  # A_rk | A_rb
    A_a = (a_hat @ kb_inv.transpose(-1, -2)).masked_fill(~strict.repeat(1, 2), 0.0)  # A_ak | A_ab
    A_rk, A_rb = A_r[..., :L], A_r[..., L:]
    A_ak, A_ab = A_a[..., :L], A_a[..., L:]

    # Terms that touch S0 only through the exact (non-factorised) decays, all <= 1.
    a_dec = a_ * torch.exp(lam_ex)  # Â
    r_dec = r_ * torch.exp(lam)  # R̂
    tail = torch.exp(lam_end - lam)  # e^{Λ_L-Λ_s}
    k_tail = k_ * tail  # K̃
    b_tail = b_ * tail  # B̃

    # WY step: one unit-lower-triangular solve for both right-hand sides.
    eye = torch.eye(L, dtype=r.dtype, device=r.device)
    rhs = torch.cat([a_dec, A_ak @ v_], dim=-1)  # [.., L, 2N]
    WU = torch.linalg.solve_triangular(eye - A_ab, rhs, upper=False, unitriangular=True)
    W, U = WU[..., :N], WU[..., N:]  # W: [.., L, N(key)], U: [.., L, N(value)]

    Q = r_dec + A_rb @ W  # [.., L, N(key)]
    O = A_rk @ v_ + A_rb @ U  # [.., L, N(value)]
    M = torch.diag_embed(torch.exp(lam_end.squeeze(-2))) + W.transpose(-1, -2) @ b_tail  # [.., N(k), N(k)]
    D = v_.transpose(-1, -2) @ k_tail + U.transpose(-1, -2) @ b_tail  # [.., N(value), N(key)]

    # The only sequential part: carry the state across chunks.
    S = state
    entering = []
    for c in range(nC):
        entering.append(S)
        S = S @ M[:, :, c] + D[:, :, c]
    S0 = torch.stack(entering, dim=2)  # [B, H, nC, N(value), N(key)]

    y = Q @ S0.transpose(-1, -2) + O  # [B, H, nC, L, N(value)]
    y = y.permute(0, 2, 3, 1, 4).reshape(B, nC * L, H, N)
    if pad:
        y = y[:, :T]
    return y, S
