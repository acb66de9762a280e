"""Data package: the embedded default model (model.safetensors, vocab.txt, training.json, evaluation.json,
MODEL_CARD.md), written by `python -m pretrain --out model/default` and `python -m pretrain.model_card
model/default`."""
