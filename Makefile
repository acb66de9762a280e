# sleepd developer entry points. `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test lint bench clean-venv

install: $(STAMP)

# torch is pinned in the same command (and in constraints.txt) so pip takes the CPU build.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0" -c constraints.txt -e ".[dev]"
	touch $(STAMP)

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Each prints JSON with its in-run reference; run them on an otherwise idle machine (BENCHMARKS.md).
bench: install
	$(PY) bench/wkv.py --json
	$(PY) bench/model.py --json
	$(PY) bench/tune.py --json --shape both
	$(PY) bench/api.py --json
	$(PY) bench/reflection.py --json
	$(PY) bench/init_ablation.py --json

clean-venv:
	rm -rf $(VENV)
