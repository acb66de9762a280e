"""Fixtures shared by the model tests: tiny random BlinkDL-format checkpoints and the reference package."""

from __future__ import annotations

import os

import pytest
import torch
from support import TINY_ODD as TINY

from model.checkpoint import save_pth
from model.config import RWKV7Config
from model.random_init import random_state_dict


@pytest.fixture(scope="session")
def tiny_config() -> RWKV7Config:
    return TINY


@pytest.fixture(scope="session")
def tiny_bf16_pth(tmp_path_factory) -> str:
    """A random L2/C128 checkpoint saved in bf16, like released BlinkDL files."""
    sd = random_state_dict(TINY, seed=1234, perturb=True)
    sd = {k: v.to(torch.bfloat16) for k, v in sd.items()}
    path = tmp_path_factory.mktemp("ckpt") / "tiny-rwkv7.pth"
    save_pth(sd, path)
    return str(path)


@pytest.fixture(scope="session")
def rwkv_pip():
    """The `rwkv` pip package (0.8.32) in its documented CPU configuration, as the numerical oracle."""
    os.environ["RWKV_V7_ON"] = "1"
    os.environ["RWKV_CUDA_ON"] = "0"
    os.environ.setdefault("RWKV_JIT_ON", "1")
    from rwkv import model as rwkv_model  # imported late: it reads the env vars at import time

    return rwkv_model
