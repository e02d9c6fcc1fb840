# Quickstart: `make demo` loads the bundled API simulator into DuckDB; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install

$(BIN)/kognitos-elt: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,dagster]'
	touch $@

install: $(BIN)/kognitos-elt

demo: install
	$(BIN)/kognitos-elt demo

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy sources pipelines kognitos_simulator
