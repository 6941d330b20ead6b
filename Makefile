# The two set-up commands of the README. Each creates .venv with Python 3.12 if needed.
PYTHON ?= $(shell command -v python3.12 2>/dev/null || (pyenv which python3.12 2>/dev/null) || echo python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-test install-docs docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"

demo: install
	$(BIN)/bayeslaws demo --out bayeslaws-demo

# Two pytest workers, one test file each at a time (so module fixtures are fitted once). Much of
# the suite is single-threaded (XLA compiles, pytensor graphs, subprocess start-up), so two
# workers overlap it (1.3x on 2 cores: benchmarks/RESULTS.md, "Test suite wall time").
# lint-imports first: the one-way layer contract of pyproject.toml (docs/architecture.md).
test: install-test
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

install-docs: $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[docs]"

# The documentation site: figures from bundled data (small draws, cached in docs/_generated),
# then Sphinx with warnings as errors. Output: docs/_build/html/index.html
docs: install-docs
	$(BIN)/python docs/figures.py
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html
