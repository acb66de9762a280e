"""Checkpoint loading: formats, config inference, and one clear error for everything we refuse."""

from __future__ import annotations

import pickle

import pytest
import torch
from support import TINY_ODD as TINY

from model.checkpoint import (
    CheckpointError,
    inspect_checkpoint,
    load_model,
    save_pth,
    save_safetensors,
)
from model.random_init import random_state_dict


@pytest.fixture(scope="module")
def sd():
    return random_state_dict(TINY, seed=7, perturb=True)


def test_pth_dtypes_load_to_same_model(tmp_path, sd):
    tokens = torch.tensor([[1, 2, 3, 4, 5]])
    outs = []
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        p = tmp_path / f"m-{str(dtype)[6:]}.pth"
        save_pth({k: v.to(dtype) for k, v in sd.items()}, p)
        model, info = load_model(p)
        assert info.format == "pth" and info.config == TINY and len(info.sha256) == 64
        assert model.emb.weight.dtype == torch.float32
        assert not any(param.requires_grad for param in model.parameters())
        outs.append(model(tokens)[0])
    # Different storage precision gives slightly different numbers, never a different model.
    assert (outs[0] - outs[1]).abs().max() < 0.05
    assert (outs[0] - outs[2]).abs().max() < 0.05


def test_safetensors_round_trip_is_exact(tmp_path, sd):
    p = tmp_path / "m.pth"
    save_pth(sd, p)
    model, _ = load_model(p)
    st = tmp_path / "m.safetensors"
    save_safetensors(model, st, {"model_id": "tiny-test"})
    again, info = load_model(st)
    assert info.model_id == "tiny-test" and info.format == "safetensors"
    tokens = torch.tensor([[9, 8, 7]])
    assert torch.equal(model(tokens)[0], again(tokens)[0])


def test_projections_load_input_major_with_unchanged_values(tmp_path, sd):
    """Decode streams each projection once per token; the loader stores them [in, out] in memory (the
    faster layout for a matrix-vector product), while shapes, values and saved files stay as in the file."""
    p = tmp_path / "m.pth"
    save_pth(sd, p)
    model, _ = load_model(p)
    for key in ("head.weight", "blocks.1.att.key.weight", "blocks.0.ffn.value.weight"):
        w = model.get_parameter(key)
        assert w.shape == sd[key].shape and w.stride() == (1, w.shape[0]), key
        assert torch.equal(w, sd[key]), key
    assert model.blocks[0].att.w1.is_contiguous()  # LoRA matrices are not projections: left as stored
    st = tmp_path / "m.safetensors"
    save_safetensors(model, st)
    again, _ = load_model(st)
    assert all(torch.equal(again.state_dict()[k], v) for k, v in sd.items())


def test_layer0_value_residual_weights_are_optional(tmp_path, sd):
    trimmed = {
        k: v for k, v in sd.items() if k not in {"blocks.0.att.v0", "blocks.0.att.v1", "blocks.0.att.v2"}
    }
    p = tmp_path / "trimmed.pth"
    save_pth(trimmed, p)
    full_path = tmp_path / "full.pth"
    save_pth(sd, full_path)
    tokens = torch.tensor([[5, 6, 7, 8]])
    assert torch.equal(load_model(p)[0](tokens)[0], load_model(full_path)[0](tokens)[0])


def test_inspect_does_not_need_the_model(tmp_path, sd):
    p = tmp_path / "m.pth"
    save_pth(sd, p)
    info = inspect_checkpoint(p)
    assert info.config.n_params() == sum(v.numel() for v in sd.values())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda sd: {
                **{k: v for k, v in sd.items() if "att.r_k" not in k and "att.w0" not in k},
                "blocks.0.att.time_maa_x": torch.zeros(1, 1, 128),
                "blocks.0.att.time_faaaa": torch.zeros(2, 64),
            },
            "RWKV-6",
        ),
        (
            lambda sd: {k: v for k, v in sd.items() if k != "blocks.1.att.key.weight"},
            "missing keys blocks.1.att.key.weight",
        ),
        (lambda sd: {**sd, "blocks.1.att.key.weight": torch.zeros(128, 64)}, "has shape (128, 64)"),
        (lambda sd: {**sd, "blocks.0.ffn.s_emb.weight": torch.zeros(4, 4)}, "unexpected keys"),
        (lambda sd: {k: v for k, v in sd.items() if k != "emb.weight"}, "missing key 'emb.weight'"),
    ],
    ids=["v6", "missing", "shape", "variant", "no-emb"],
)
def test_refused_checkpoints_say_why(tmp_path, sd, mutate, message):
    p = tmp_path / "bad.pth"
    save_pth(mutate(sd), p)
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_model(p)


def test_unsupported_extension_and_missing_file(tmp_path):
    p = tmp_path / "model.bin"
    p.write_bytes(b"\0" * 16)
    with pytest.raises(CheckpointError, match=r"unsupported checkpoint format '\.bin'"):
        load_model(p)
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_model(tmp_path / "absent.pth")


class _Payload:
    def __reduce__(self):  # would run code if unpickled without weights_only
        return (print, ("pwned",))


def test_pickled_code_is_refused(tmp_path):
    p = tmp_path / "evil.pth"
    with open(p, "wb") as f:
        pickle.dump({"emb.weight": _Payload()}, f)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_model(p)


def test_truncated_safetensors_is_refused(tmp_path, sd):
    p = tmp_path / "m.pth"
    save_pth(sd, p)
    model, _ = load_model(p)
    st = tmp_path / "m.safetensors"
    save_safetensors(model, st)
    st.write_bytes(st.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_model(st)
