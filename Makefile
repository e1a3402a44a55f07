# Harvest — developer commands. Every target sets up what it needs first (venv, packages, Azurite).
# Python 3.13: Azure's worker runtime (azure-functions-runtime) is a PyPI package from 3.13 on, and the local host
# loads the app through it. `make` finds 3.13 on PATH or under pyenv; PYTHON=/path/to/python3.13 overrides.
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 \
	/usr/bin/python3.13; do "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null \
	&& { command -v "$$p" || echo "$$p"; } && break; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
AZURITE_VERSION := 3.35.0
AZURITE := node_modules/.bin/azurite-blob

.PHONY: setup run serve test lint typecheck bench clean

setup: $(STAMP) $(AZURITE)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.13 not found. Install it (e.g. 'pyenv install 3.13', or your OS package python3.13) or run make PYTHON=/path/to/python3.13"; exit 2; }
	@test -x $(BIN)/python && $(BIN)/python -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null || rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(AZURITE):
	@command -v npm >/dev/null || { echo "error: npm not found — install Node.js 20 to get the Azurite storage emulator"; exit 2; }
	npm install --no-save --no-audit --no-fund --silent azurite@$(AZURITE_VERSION)

run: setup  ## ingest the bundled sample sources into Azurite with the offline model
	$(BIN)/harvest run

serve: setup  ## the local Functions host on http://127.0.0.1:7071
	$(BIN)/harvest serve

test: setup  ## the whole test suite (starts its own Azurite)
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

typecheck: setup  ## mypy, strict on shared/, orchestrators/, activities/, triggers/, cli/ ([tool.mypy] in pyproject.toml)
	$(BIN)/mypy

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: setup $(BENCH_STAMP)  ## the benchmarks: bench/results/latest.json and charts (docs/benchmarks.md)
	$(BIN)/python -m bench

clean:
	rm -rf .harvest .pytest_cache .ruff_cache
