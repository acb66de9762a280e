"""Chunked WKV-7 for the CPU: the recurrence rewritten as batched matrix products.

Derivation in docs/rwkv7.md §5 (DPLR / WY form). Per head, with the state S [value, key]
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

Two implementations of the same algebra:
- `wkv7_chunked`: plain differentiable torch; autograd gives the gradient of every input and of the
  initial state (training, state tuning).
- `wkv7_chunked_forward`: forward only (prefill, evaluation). The four pair matrices come from one
  product of the stacked rows [r; a] with the stacked columns [k; b]; the two right-hand sides, [Q | O]
  and [M; D] are each one product; results are written into preallocated halves instead of
  concatenated. Fewer, larger GEMMs and fewer passes over memory; same numbers up to rounding.

Numerics: the pair products e^{Λ_t-Λ_s} are factorised as e^{Λ_t-m}·e^{m-Λ_s} around the chunk's middle
prefix m, so each factor stays within e^{±|logw|_max·L/2}. RWKV-7 clamps logw >= -e^{-0.5} (~-0.607), which
at L=64 bounds the factors by about e^{20}: safe in fp32. The chunk length is shortened automatically
for inputs with stronger decay. Everything is plain differentiable torch, so autograd provides
gradients for every input and for the initial state.
"""

from __future__ import annotations

import torch

# Largest |exponent| allowed for one factor of the factorised decay product. e^30 ~ 1e13 leaves fp32
# (max ~3e38) plenty of headroom for the products and sums that follow.
_MAX_HALF_EXPONENT = 30.0


def safe_chunk_len(logw: torch.Tensor, chunk_len: int, decay_floor: float | None = None) -> int:
    """Shrink the chunk if the decay is strong enough to overflow the factorised exponent.

    decay_floor: a known lower bound of logw (RWKV-7 guarantees logw >= -e^-0.5). With it the length
    is chosen without reading the data, which saves a reduction and a host sync per call."""
    data_floor = float(logw.detach().min()) if decay_floor is None and logw.numel() else 0.0
    worst = -decay_floor if decay_floor is not None else -data_floor
    L = chunk_len
    while L > 1 and worst * (L / 2 + 1) > _MAX_HALF_EXPONENT:
        L //= 2
    return L


def _layout(logw: torch.Tensor, chunk_len: int, decay_floor: float | None) -> tuple[int, int, int]:
    """(chunk length L, number of chunks, padded steps) for a [B, T, H, N] sequence."""
    T = logw.shape[1]
    L = safe_chunk_len(logw, chunk_len, decay_floor)
    nC = -(-T // L)
    return L, nC, nC * L - T


def _chunks(x: torch.Tensor, nC: int, L: int, pad: int) -> torch.Tensor:
    """[B, T, H, N] -> [B*H*nC, L, N] (batch order b, h, c); padded steps have decay 1 and write nothing."""
    B, _, H, N = x.shape
    if pad:
        x = torch.nn.functional.pad(x, (0, 0, 0, 0, 0, pad))
    return x.view(B, nC, L, H, N).permute(0, 3, 1, 2, 4).reshape(B * H * nC, L, N)


def wkv7_chunked(
    r: torch.Tensor,  # [B, T, H, N]
    logw: torch.Tensor,  # [B, T, H, N] log decay, <= 0
    k: torch.Tensor,  # [B, T, H, N]
    v: torch.Tensor,  # [B, T, H, N]
    a: torch.Tensor,  # [B, T, H, N]
    b: torch.Tensor,  # [B, T, H, N]
    state: torch.Tensor,  # [B, H, N, N]  (value, key)
    chunk_len: int = 64,
    decay_floor: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns y [B, T, H, N] and the final state [B, H, N, N]; same contract as wkv7_sequential."""
    B, T, H, N = r.shape
    if T == 0:
        return r.new_zeros(r.shape), state
    L, nC, pad = _layout(logw, chunk_len, decay_floor)

    BHC = B * H * nC
    r_, lw, k_, v_, a_, b_ = (_chunks(x, nC, L, pad) for x in (r, logw, k, v, a, b))

    lam = torch.cumsum(lw, dim=1)  # Λ_t, inclusive             [BHC, L, N]
    mid = lam[:, L // 2 : L // 2 + 1]  # centring point m        [BHC, 1, N]
    lam_end = lam[:, -1:]  # Λ_L                                  [BHC, 1, N]
    E = torch.exp(lam - mid)  # e^{Λ_t - m}, bounded by the chunk-length guard
    inv_w = torch.exp(-lw)  # 1 / decay_t, turns Λ_t into Λ⁻_t

    # Factorised pair terms: q-side e^{Λ(-)_t - m}, k-side e^{m - Λ_s}.
    r_hat = r_ * E
    a_hat = a_ * E * inv_w
    k_inv = k_ / E
    b_inv = b_ / E

    # The four pair matrices with their causal masks: inclusive (s <= t) for the r rows, strict for a.
    k_inv_t, b_inv_t = k_inv.transpose(1, 2), b_inv.transpose(1, 2)
    A_rk = torch.bmm(r_hat, k_inv_t).tril_()  # [BHC, L, L]
    A_rb = torch.bmm(r_hat, b_inv_t).tril_()
    A_ak = torch.bmm(a_hat, k_inv_t).tril_(-1)
    A_ab = torch.bmm(a_hat, b_inv_t).tril_(-1)

    # Exact decays for the terms that meet S0 (all factors <= 1): e^{Λ_t} = e^{Λ_t-m} e^{m}, and so on.
    e_mid = torch.exp(mid)
    e_tail = torch.exp(lam_end - mid)
    r_dec = r_hat * e_mid  # R̂_t = r_t e^{Λ_t}
    a_dec = a_hat * e_mid  # Â_t = a_t e^{Λ⁻_t}
    k_tail = k_inv * e_tail  # K̃_s = k_s e^{Λ_L - Λ_s}
    b_tail = b_inv * e_tail  # B̃_s = b_s e^{Λ_L - Λ_s}

    # WY step: one unit-lower-triangular solve for both right-hand sides.
    eye = torch.eye(L, dtype=r.dtype, device=r.device)
    rhs = torch.cat([a_dec, torch.bmm(A_ak, v_)], dim=2)  # [BHC, L, 2N]
    WU = torch.linalg.solve_triangular(eye - A_ab, rhs, upper=False, unitriangular=True)
    W, U = WU[:, :, :N], WU[:, :, N:]  # W: [BHC, L, N(key)], U: [BHC, L, N(value)]

    Q = torch.baddbmm(r_dec, A_rb, W)  # [BHC, L, N(key)]
    O = torch.baddbmm(torch.bmm(A_rk, v_), A_rb, U)  # [BHC, L, N(value)]
    M = torch.baddbmm(
        torch.diag_embed(torch.exp(lam_end.squeeze(1))), W.transpose(1, 2), b_tail
    )  # [BHC, Nk, Nk]
    D = torch.baddbmm(torch.bmm(v_.transpose(1, 2), k_tail), U.transpose(1, 2), b_tail)  # [BHC, Nv, Nk]

    # The only sequential part: carry the state across chunks, S <- S M_c + D_c.
    M_c = M.view(B * H, nC, N, N).transpose(0, 1).contiguous()  # [nC, B*H, N, N]
    D_c = D.view(B * H, nC, N, N).transpose(0, 1).contiguous()
    S = state.reshape(B * H, N, N)
    entering = []
    for c in range(nC):
        entering.append(S)
        S = torch.baddbmm(D_c[c], S, M_c[c])
    S0 = torch.stack(entering, dim=1).view(BHC, N, N)  # state entering each chunk, [value, key]

    y = torch.baddbmm(O, Q, S0.transpose(1, 2))  # [BHC, L, N(value)]
    y = y.view(B, H, nC, L, N).permute(0, 2, 3, 1, 4).reshape(B, nC * L, H, N)
    S = S.view(B, H, N, N)
    if pad:
        y = y[:, :T]
    return y, S


@torch.no_grad()
def wkv7_chunked_forward(
    r: torch.Tensor,  # [B, T, H, N]
    logw: torch.Tensor,  # [B, T, H, N] log decay, <= 0
    k: torch.Tensor,  # [B, T, H, N]
    v: torch.Tensor,  # [B, T, H, N]
    a: torch.Tensor,  # [B, T, H, N]
    b: torch.Tensor,  # [B, T, H, N]
    state: torch.Tensor,  # [B, H, N, N]  (value, key)
    chunk_len: int = 64,
    decay_floor: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward-only `wkv7_chunked` (no autograd graph): y [B, T, H, N] and the final state [B, H, N, N]."""
    B, T, H, N = r.shape
    if T == 0:
        return r.new_zeros(r.shape), state
    L, nC, pad = _layout(logw, chunk_len, decay_floor)
    BHC = B * H * nC
    dt = r.dtype
    lw = _chunks(logw, nC, L, pad)
    lam = torch.cumsum(lw, dim=1)  # Λ_t                            [BHC, L, N]
    mid = lam[:, L // 2 : L // 2 + 1]  # centring point m              [BHC, 1, N]
    lam_end = lam[:, -1:]  # Λ_L

    # Rows [r; a] scaled by e^{Λ_t - m} and e^{Λ⁻_t - m}; columns [k; b] by e^{m - Λ_s}.   [BHC, 2L, N]
    rows = torch.empty(BHC, 2 * L, N, dtype=dt, device=r.device)
    torch.mul(_chunks(r, nC, L, pad), torch.exp(lam - mid), out=rows[:, :L])
    torch.mul(_chunks(a, nC, L, pad), torch.exp(lam.sub(lw).sub_(mid)), out=rows[:, L:])
    cols = torch.empty(BHC, 2 * L, N, dtype=dt, device=r.device)
    e_inv = torch.exp(mid - lam)
    torch.mul(_chunks(k, nC, L, pad), e_inv, out=cols[:, :L])
    torch.mul(_chunks(b, nC, L, pad), e_inv, out=cols[:, L:])
    v_ = _chunks(v, nC, L, pad)  # [BHC, L, N(value)]

    # All four pair matrices at once; causal masks by zeroing (never by multiplying: the entries above
    # the diagonal can be huge): inclusive in the r rows, strict in the a rows.      [BHC, 2L, 2L]
    A = torch.bmm(rows, cols.transpose(1, 2))
    A_rk, A_rb, A_ak, A_ab = A[:, :L, :L], A[:, :L, L:], A[:, L:, :L], A[:, L:, L:]
    for block, diagonal in ((A_rk, 0), (A_rb, 0), (A_ak, -1), (A_ab, -1)):
        block.tril_(diagonal)
    AkV = torch.bmm(A[:, :, :L], v_)  # [A_rk V; A_ak V]                           [BHC, 2L, N]

    e_mid = torch.exp(mid)
    # (I - A_ab) [W | U] = [Â | A_ak V]
    rhs = torch.empty(BHC, L, 2 * N, dtype=dt, device=r.device)
    torch.mul(rows[:, L:], e_mid, out=rhs[:, :, :N])  # Â_t = a_t e^{Λ⁻_t}
    rhs[:, :, N:] = AkV[:, L:]
    system = A_ab.neg_()
    system.diagonal(dim1=1, dim2=2).fill_(1.0)  # I - A_ab (A_ab is strictly lower)
    WU = torch.linalg.solve_triangular(system, rhs, upper=False, unitriangular=True)  # [BHC, L, 2N]

    # [Q | O] = [R̂ | A_rk V] + A_rb [W | U]
    QO = torch.empty(BHC, L, 2 * N, dtype=dt, device=r.device)
    torch.mul(rows[:, :L], e_mid, out=QO[:, :, :N])  # R̂_t = r_t e^{Λ_t}
    QO[:, :, N:] = AkV[:, :L]
    QO.baddbmm_(A_rb, WU)

    # [M; D] = [diag(e^{Λ_L}); Vᵀ K̃] + [W | U]ᵀ B̃   with K̃_s, B̃_s = (k_s, b_s) e^{Λ_L - Λ_s}
    cols.mul_(torch.exp(lam_end - mid))
    MD = torch.zeros(BHC, 2 * N, N, dtype=dt, device=r.device)
    MD[:, :N].diagonal(dim1=1, dim2=2).copy_(torch.exp(lam_end.squeeze(1)))
    torch.bmm(v_.transpose(1, 2), cols[:, :L], out=MD[:, N:])
    MD.baddbmm_(WU.transpose(1, 2), cols[:, L:])

    # The only sequential part: S <- S M_c + D_c, keeping the state that enters each chunk.
    MD = MD.view(B * H, nC, 2 * N, N)
    S = state.reshape(B * H, N, N)
    entering = torch.empty(B * H, nC, N, N, dtype=dt, device=r.device)
    for c in range(nC):
        entering[:, c] = S
        S = torch.baddbmm(MD[:, c, N:], S, MD[:, c, :N])

    y = torch.baddbmm(QO[:, :, N:], QO[:, :, :N], entering.view(BHC, N, N).transpose(1, 2))
    y = y.view(B, H, nC, L, N).permute(0, 2, 3, 1, 4).reshape(B, nC * L, H, N)
    if pad:
        y = y[:, :T]
    return y, S.view(B, H, N, N)
