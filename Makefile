# The two commands a newcomer needs: `make demo` and `make test` (`make unit` for a seconds-long loop).
# Both create .venv with everything they need on first use (Python 3.10+ only).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export NO_MKDOCS_2_WARNING := 1

.PHONY: demo test unit lint docs bench bench-quick generate

# The demo needs only the package and tqdm; the tests also need the dev extra and every optional one.
$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[cli]'
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PY) -m pip install -q -e '.[dev,cli,ray,storage,parquet,otel,docs]'
	touch $@

demo: $(VENV)/.base
	$(PY) -m aioclarifai demo

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) tools/generate.py --check
	$(PY) -m mkdocs build --strict --quiet

test: lint
	$(PY) -m pytest

# The unit tests only (no sockets, no lint): the loop to run while editing.
unit: $(VENV)/.dev
	$(PY) -m pytest tests/unit -q

# The documentation site into site/; `$(PY) -m mkdocs serve` to browse it while writing.
docs: $(VENV)/.dev
	$(PY) -m mkdocs build --strict

generate: $(VENV)/.dev
	$(PY) tools/generate.py

bench: $(VENV)/.dev
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m benchmarks

bench-quick: $(VENV)/.dev
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m benchmarks --quick
