"""RWKV-7 (x070) model shape, inferred from checkpoint tensors.

Ranks of the LoRA-style projections differ between released sizes and the training-code formulas, so
they are always read from tensor shapes (see docs/rwkv7.md §2), never computed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RWKV7Config:
    vocab_size: int  # V: rows of emb.weight / head.weight (65536 for World models, padded)
    n_embd: int  # C
    n_layer: int  # L
    head_size: int = 64  # N; H = C // N
    dim_ffn: int = 0  # 4C in released models; 0 means 4 * n_embd
    d_decay: int = 64  # Dw: att.w1 is [C, Dw]
    d_aaa: int = 64  # Da: att.a1 is [C, Da]
    d_mv: int = 32  # Dv: att.v1 is [C, Dv] (layers >= 1)
    d_gate: int = 128  # Dg: att.g1 is [C, Dg]

    def __post_init__(self) -> None:
        if self.dim_ffn == 0:
            object.__setattr__(self, "dim_ffn", 4 * self.n_embd)
        if self.n_embd % self.head_size:
            raise ValueError(f"n_embd {self.n_embd} is not a multiple of head_size {self.head_size}")

    @property
    def n_head(self) -> int:
        return self.n_embd // self.head_size

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RWKV7Config:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: int(v) for k, v in d.items() if k in known})

    def n_params(self, include_embedding: bool = True) -> int:
        """Parameter count of a checkpoint with this shape (emb, head and every block)."""
        C, L, V, F = self.n_embd, self.n_layer, self.vocab_size, self.dim_ffn
        per_layer = (
            4 * C  # ln1, ln2 weight+bias
            + 6 * C  # x_r..x_g
            + 3 * C  # w0, a0, v0
            + 2 * C * (self.d_decay + self.d_aaa + self.d_mv + self.d_gate)
            + 2 * C  # k_k, k_a
            + C  # r_k
            + 4 * C * C  # receptance, key, value, output
            + 2 * C  # ln_x
            + C  # ffn.x_k
            + 2 * F * C  # ffn key, value
        )
        total = L * per_layer + 2 * C  # ln_out
        total += 2 * C  # ln0 (layer 0)
        total += V * C  # head
        if include_embedding:
            total += V * C
        return total
