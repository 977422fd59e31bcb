# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv with everything they need on first use (Python 3.10+ only).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint bench bench-quick generate

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,cli,ray]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m aioclarifai demo

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) tools/generate.py --check

test: lint
	$(PY) -m pytest

generate: $(VENV)/.installed
	$(PY) tools/generate.py

bench: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m benchmarks

bench-quick: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m benchmarks --quick
