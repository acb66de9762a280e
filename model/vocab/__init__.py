"""Data-only package holding tokenizer vocabulary files (see NOTICE).

It is a package so that setuptools' package-data rules ship the files inside it.
"""
