"""The embedded default model's pretraining recipe (`python -m pretrain`) and its model card
(`python -m pretrain.model_card model/default`). A tool above the product: nothing in sleepd imports it."""
