"""Random RWKV-7 weights in the BlinkDL checkpoint layout.

Used for tests (tiny checkpoints saved in bf16, compared against the reference package), benchmarks at
real shapes (0.1B), and as the starting point of pretraining. The values follow the structure of the
RWKV-7 training init closely enough that activations, decays and the state stay in realistic ranges:
token-shift mixes in [0, 1], decay biases spread so that heads see both fast and slow decay, small LoRAs,
unit-scale projections. `perturb=True` also randomises norms and biases, so that parity tests notice a
swapped or missing LayerNorm.
"""

from __future__ import annotations

import math

import torch

from model.config import RWKV7Config
from model.rwkv7 import RWKV7


def random_state_dict(cfg: RWKV7Config, seed: int = 0, perturb: bool = False) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    C, H, N, L = cfg.n_embd, cfg.n_head, cfg.head_size, cfg.n_layer

    def uniform(*shape, lo=0.0, hi=1.0):
        return lo + (hi - lo) * torch.rand(*shape, generator=g)

    def normal(*shape, std=1.0):
        return std * torch.randn(*shape, generator=g)

    def ortho(rows: int, cols: int, gain: float) -> torch.Tensor:
        q, _ = torch.linalg.qr(normal(max(rows, cols), min(rows, cols)))
        w = q if rows >= cols else q.T
        return gain * w[:rows, :cols].contiguous()

    def norm_params(prefix: str, sd: dict[str, torch.Tensor]) -> None:
        if perturb:
            sd[prefix + ".weight"] = uniform(C, lo=0.7, hi=1.3)
            sd[prefix + ".bias"] = normal(C, std=0.1)
        else:
            sd[prefix + ".weight"] = torch.ones(C)
            sd[prefix + ".bias"] = torch.zeros(C)

    sd: dict[str, torch.Tensor] = {}
    sd["emb.weight"] = (
        uniform(cfg.vocab_size, C, lo=-1e-1, hi=1e-1) if perturb else normal(cfg.vocab_size, C, std=1e-2)
    )
    for i in range(L):
        p = f"blocks.{i}."
        if i == 0:
            norm_params(p + "ln0", sd)
        norm_params(p + "ln1", sd)
        norm_params(p + "ln2", sd)
        ratio_0_to_1 = i / max(L - 1, 1)
        ratio_1_to_0 = 1.0 - i / L
        ddd = torch.arange(C, dtype=torch.float32) / C
        a = p + "att."
        sd[a + "x_r"] = (1.0 - ddd.pow(0.2 * ratio_1_to_0)).view(1, 1, C)
        sd[a + "x_w"] = (1.0 - ddd.pow(0.9 * ratio_1_to_0)).view(1, 1, C)
        sd[a + "x_k"] = (1.0 - ddd.pow(0.7 * ratio_1_to_0)).view(1, 1, C)
        sd[a + "x_v"] = (1.0 - ddd.pow(0.7 * ratio_1_to_0)).view(1, 1, C)
        sd[a + "x_a"] = (1.0 - ddd.pow(0.9 * ratio_1_to_0)).view(1, 1, C)
        sd[a + "x_g"] = (1.0 - ddd.pow(0.2 * ratio_1_to_0)).view(1, 1, C)
        # Decay bias: from fast (d ~ -7) to slow (d ~ +5) channels within each head.
        n = torch.arange(C, dtype=torch.float32)
        decay_speed = -7 + 5 * (n / (C - 1)) ** (0.85 + 1.0 * ratio_0_to_1**0.5)
        sd[a + "w0"] = (decay_speed + 0.5).view(1, 1, C)
        sd[a + "w1"] = normal(C, cfg.d_decay, std=0.1)
        sd[a + "w2"] = ortho(cfg.d_decay, C, 0.1)
        sd[a + "a0"] = normal(1, 1, C, std=0.5)
        sd[a + "a1"] = normal(C, cfg.d_aaa, std=0.1)
        sd[a + "a2"] = ortho(cfg.d_aaa, C, 0.1)
        sd[a + "v0"] = torch.ones(1, 1, C) + normal(1, 1, C, std=0.1)
        sd[a + "v1"] = normal(C, cfg.d_mv, std=0.1)
        sd[a + "v2"] = ortho(cfg.d_mv, C, 0.1)
        sd[a + "g1"] = normal(C, cfg.d_gate, std=0.1)
        sd[a + "g2"] = ortho(cfg.d_gate, C, 0.1)
        sd[a + "k_k"] = torch.full((1, 1, C), 0.85) + normal(1, 1, C, std=0.05)
        sd[a + "k_a"] = torch.ones(1, 1, C) + normal(1, 1, C, std=0.05)
        sd[a + "r_k"] = normal(H, N, std=0.1)
        sd[a + "receptance.weight"] = ortho(C, C, 1.0)
        sd[a + "key.weight"] = ortho(C, C, 1.0)
        sd[a + "value.weight"] = ortho(C, C, 1.0)
        sd[a + "output.weight"] = ortho(C, C, 0.5) if perturb else ortho(C, C, 0.1)
        sd[a + "ln_x.weight"] = uniform(C, lo=0.7, hi=1.3) if perturb else torch.ones(C)
        sd[a + "ln_x.bias"] = normal(C, std=0.1) if perturb else torch.zeros(C)
        f = p + "ffn."
        sd[f + "x_k"] = (1.0 - ddd.pow(ratio_1_to_0**4)).view(1, 1, C)
        sd[f + "key.weight"] = ortho(cfg.dim_ffn, C, 1.0)
        sd[f + "value.weight"] = ortho(C, cfg.dim_ffn, 0.5 if perturb else 0.1)
    norm_params("ln_out", sd)
    sd["head.weight"] = ortho(cfg.vocab_size, C, math.sqrt(cfg.vocab_size / C) * 0.5)
    return sd


def random_model(cfg: RWKV7Config, seed: int = 0, perturb: bool = False) -> RWKV7:
    from model.checkpoint import model_from_state_dict

    return model_from_state_dict(random_state_dict(cfg, seed, perturb), source="random init")
