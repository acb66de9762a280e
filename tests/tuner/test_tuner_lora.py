"""LoRA generations: tuned through peft, saved inside a generation, served through the daemon's own path,
and rolled back like any other generation."""

from __future__ import annotations

import torch

from daemon.inference import ModelServer
from daemon.init import init_data_dir, open_data_dir
from model.bundle import load_bundle, write_tiny_checkpoint
from tuner.config import ObjectiveWeights, TunerConfig
from tuner.lora import apply_adapter, save_adapter
from tuner.tune import tune


def test_lora_generation_saves_serves_and_rolls_back(tmp_path, night):
    ckpt = write_tiny_checkpoint(tmp_path / "models", seed=5)
    init_data_dir(tmp_path / "data", model_path=ckpt)
    dd = open_data_dir(tmp_path / "data")
    bundle = load_bundle(ckpt)
    model, tok = bundle.model, bundle.tokenizer

    cfg = TunerConfig(method="lora", steps=6, eval_every=3, checkpoint_every=100, context_variants=1,
                      lora_lr=5e-2, objectives=ObjectiveWeights(distill=1.0, lm=1.0, anchor=0.0))  # fmt: skip
    res = tune(model, tok, model.zero_state(1), model.zero_state(1), night, cfg, tmp_path / "work")
    assert res.adapter and all(not p.requires_grad for p in model.parameters())
    save_adapter(res.adapter, cfg, tmp_path / "adapter")

    store = dd.generations
    gen = store.create_generation(
        base_model_id=bundle.info.model_id,
        base_model_sha256=bundle.info.sha256,
        adapter_dir=tmp_path / "adapter",
        state=res.state,
        parent_id=0,
        tuner_config=cfg.to_dict(),
    )
    assert gen.kind == "lora"
    assert all(r.ok for r in store.verify(gen.id))
    store.promote(gen.id, reason="test", actor="test")

    server = ModelServer.load(dd.config.model, store)
    tokens = torch.tensor([tok.encode("User: My sister is called")])
    base_logits, _ = model(tokens)
    expected, _ = apply_adapter(model, tmp_path / "adapter")(tokens)
    served = server.served
    assert served.generation_id == gen.id and served.model is not server.bundle.model
    got, _ = served.model(tokens, served.state)
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got, base_logits, atol=1e-3)  # the adapter changed the model

    store.rollback(reason="test", actor="test")
    served = server.reload()
    assert served.generation_id == 0 and served.model is server.bundle.model
    assert torch.equal(served.model(tokens, served.state)[0], base_logits)
