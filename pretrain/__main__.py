"""`python -m pretrain --out DIR [--smoke | --preset tiny]`: train sleepd's default model (recipe.py)."""

from pretrain.recipe import main

main()
