"""The recurrent state of an RWKV-7 model: what sleepd's memory generations are made of.

Per layer (docs/rwkv7.md §3):
  att_shift  previous token's LN1 output              [L, B, C]
  wkv        WKV matrix, layout [head, value, key]     [L, B, H, N, N]  (always fp32)
  ffn_shift  previous token's LN2 output              [L, B, C]

Layers are stacked into one tensor per kind so that a state is three tensors, which keeps batching,
cloning and the safetensors file simple. `State.layer(i)` gives the per-layer view.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from model.config import RWKV7Config
from model.fileio import atomic_write_with

STATE_FORMAT = "sleepd-rwkv7-state"
STATE_FORMAT_VERSION = "1"


@dataclass
class State:
    att_shift: torch.Tensor  # [L, B, C]
    wkv: torch.Tensor  # [L, B, H, N, N] fp32
    ffn_shift: torch.Tensor  # [L, B, C]

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def zeros(
        cls,
        config: RWKV7Config,
        batch: int = 1,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> State:
        L, C, H, N = config.n_layer, config.n_embd, config.n_head, config.head_size
        return cls(
            att_shift=torch.zeros(L, batch, C, dtype=dtype, device=device),
            wkv=torch.zeros(
                L, batch, H, N, N, dtype=torch.float32 if dtype != torch.float64 else dtype, device=device
            ),
            ffn_shift=torch.zeros(L, batch, C, dtype=dtype, device=device),
        )

    # ---- shape ---------------------------------------------------------------------------------
    @property
    def n_layer(self) -> int:
        return self.wkv.shape[0]

    @property
    def batch_size(self) -> int:
        return self.wkv.shape[1]

    def layer(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.att_shift[i], self.wkv[i], self.ffn_shift[i]

    def check(self, config: RWKV7Config) -> None:
        L, C, H, N = config.n_layer, config.n_embd, config.n_head, config.head_size
        B = self.batch_size
        want = {"att_shift": (L, B, C), "wkv": (L, B, H, N, N), "ffn_shift": (L, B, C)}
        for name, shape in want.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise ValueError(f"state {name} has shape {got}, the model needs {shape}")

    # ---- tensor plumbing -------------------------------------------------------------------------
    def _map(self, fn) -> State:
        return State(fn(self.att_shift), fn(self.wkv), fn(self.ffn_shift))

    def clone(self) -> State:
        return self._map(torch.clone)

    def detach(self) -> State:
        return self._map(torch.Tensor.detach)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> State:
        """Move the state; the wkv part stays fp32 (or fp64) whatever dtype the shifts use."""
        wkv_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        return State(
            self.att_shift.to(device=device, dtype=dtype),
            self.wkv.to(device=device, dtype=wkv_dtype if dtype is not None else None),
            self.ffn_shift.to(device=device, dtype=dtype),
        )

    def expand(self, batch: int) -> State:
        """Repeat a batch-1 state to `batch` rows (a copy, so rows evolve independently)."""
        if self.batch_size != 1:
            raise ValueError(f"expand needs a batch-1 state, got batch {self.batch_size}")
        return State(
            self.att_shift.expand(-1, batch, -1).clone(),
            self.wkv.expand(-1, batch, -1, -1, -1).clone(),
            self.ffn_shift.expand(-1, batch, -1).clone(),
        )

    def select(self, rows: int | slice | list[int] | torch.Tensor) -> State:
        if isinstance(rows, int):
            rows = [rows]
        return State(self.att_shift[:, rows], self.wkv[:, rows], self.ffn_shift[:, rows])

    @staticmethod
    def cat(states: list[State]) -> State:
        return State(
            torch.cat([s.att_shift for s in states], dim=1),
            torch.cat([s.wkv for s in states], dim=1),
            torch.cat([s.ffn_shift for s in states], dim=1),
        )

    def is_finite(self) -> bool:
        return bool(
            torch.isfinite(self.att_shift).all()
            and torch.isfinite(self.wkv).all()
            and torch.isfinite(self.ffn_shift).all()
        )

    def equal(self, other: State) -> bool:
        return (
            torch.equal(self.att_shift, other.att_shift)
            and torch.equal(self.wkv, other.wkv)
            and torch.equal(self.ffn_shift, other.ffn_shift)
        )

    # ---- files -------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
        """Write a safetensors file atomically (temp file, fsync, replace, fsync of the directory)."""
        meta = {"format": STATE_FORMAT, "format_version": STATE_FORMAT_VERSION}
        meta.update({str(k): str(v) for k, v in (metadata or {}).items()})
        tensors = {
            "att_shift": self.att_shift.detach().contiguous().cpu(),
            "wkv": self.wkv.detach().contiguous().cpu(),
            "ffn_shift": self.ffn_shift.detach().contiguous().cpu(),
        }
        atomic_write_with(path, lambda tmp: save_file(tensors, tmp, metadata=meta))

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> State:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            meta = f.metadata() or {}
            if meta.get("format") != STATE_FORMAT:
                raise ValueError(f"{path}: not a sleepd state file (format={meta.get('format')!r})")
            keys = set(f.keys())
            missing = {"att_shift", "wkv", "ffn_shift"} - keys
            if missing:
                raise ValueError(f"{path}: state file lacks {sorted(missing)}")
            state = cls(f.get_tensor("att_shift"), f.get_tensor("wkv"), f.get_tensor("ffn_shift"))
        L, B = state.wkv.shape[:2]
        if state.att_shift.shape[:2] != (L, B) or state.ffn_shift.shape[:2] != (L, B):
            raise ValueError(f"{path}: inconsistent state shapes")
        return state
