"""LoRA alternative to state tuning (`tuner.method = "lora"`), through peft.

The same objectives train low-rank adapters on the att and ffn linear layers of a copy of the model; the
recurrent state stays at its starting value. The adapter is saved inside the generation (adapter/:
adapter_model.safetensors + adapter_config.json), and serving merges it into a private copy of the
weights, so a LoRA generation costs nothing extra per token and rolls back like any other generation.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file, save_file

from model.fileio import atomic_write_text, atomic_write_with
from model.rwkv7 import RWKV7
from model.state import State
from tuner.config import TunerConfig

if TYPE_CHECKING:  # importing peft takes seconds; only LoRA nights and LoRA generations need it
    from peft import LoraConfig

# The att projections and both ffn matrices of every block.
TARGET_MODULES = r"blocks\.\d+\.(att\.(receptance|key|value|output)|ffn\.(key|value))"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


def lora_config(cfg: TunerConfig) -> LoraConfig:
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_rank,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=0.0,
        target_modules=TARGET_MODULES,
        bias="none",
        init_lora_weights=True,
    )


class LoraParams:
    """Trainable LoRA adapters on a private copy of the model (the teacher keeps the original)."""

    def __init__(self, model: RWKV7, start: State, cfg: TunerConfig) -> None:
        torch.manual_seed(cfg.seed)  # LoRA A matrices are randomly initialised
        self.cfg = cfg
        from peft import inject_adapter_in_model

        self.model = inject_adapter_in_model(lora_config(cfg), copy.deepcopy(model))
        for name, p in self.model.named_parameters():
            p.requires_grad_("lora_" in name)
        self.state = start.detach().clone()

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def student_model(self) -> RWKV7:
        return self.model

    def student_state(self) -> State:
        return self.state

    def snapshot(self) -> dict[str, torch.Tensor]:
        from peft import get_peft_model_state_dict

        return {k: v.detach().clone() for k, v in get_peft_model_state_dict(self.model).items()}

    def restore(self, snap: dict[str, torch.Tensor]) -> None:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(self.model, snap)

    def adapter_state(self) -> dict[str, torch.Tensor]:
        return self.snapshot()


def save_adapter(adapter: dict[str, torch.Tensor], cfg: TunerConfig, directory: str | os.PathLike) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in adapter.items()}
    atomic_write_with(
        directory / ADAPTER_WEIGHTS, lambda tmp: save_file(tensors, tmp, metadata={"format": "pt"})
    )
    conf = lora_config(cfg).to_dict()
    conf = {k: (sorted(v) if isinstance(v, set) else v) for k, v in conf.items()}
    atomic_write_text(
        directory / ADAPTER_CONFIG, json.dumps(conf, indent=2, sort_keys=True, default=str) + "\n"
    )


def apply_adapter(model: RWKV7, directory: str | os.PathLike) -> RWKV7:
    """A copy of `model` with the adapter in `directory` merged into its weights (plain nn.Linear again)."""
    from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict

    directory = Path(directory)
    conf = json.loads((directory / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    lcfg = LoraConfig(
        r=conf["r"],
        lora_alpha=conf["lora_alpha"],
        lora_dropout=0.0,
        target_modules=conf["target_modules"],
        bias="none",
    )
    merged = inject_adapter_in_model(lcfg, copy.deepcopy(model))
    missing = set_peft_model_state_dict(merged, load_file(str(directory / ADAPTER_WEIGHTS)))
    if getattr(missing, "unexpected_keys", None):
        raise ValueError(
            f"{directory}: adapter weights do not fit this model ({missing.unexpected_keys[:3]})"
        )
    for name, module in list(merged.named_modules()):
        if hasattr(module, "base_layer") and hasattr(module, "merge"):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            setattr(merged.get_submodule(parent_name) if parent_name else merged, child, module.base_layer)
    merged.requires_grad_(False)
    merged.eval()
    return merged
