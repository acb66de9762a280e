# sleepd developer entry points. `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install browser test lint bench demo clean-venv

install: $(STAMP)

# torch is pinned in the same command (and in constraints.txt) so pip takes the CPU build.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0" -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# Headless Chromium for the report tests (tests/eval/test_report_browser.py): Debian's package, installed
# only when missing (sudo only when not root; the package lists are refreshed when the first try fails).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y -q chromium || { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }; \
	}
	@command -v chromium >/dev/null 2>&1 || { echo "chromium is still missing after apt-get install" >&2; exit 1; }

test: install browser
	$(PY) -m pytest -q

# Five simulated days and nights on the embedded default model, through a real `sleepd serve` (README).
demo: install
	$(PY) -m daemon.cli demo

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
