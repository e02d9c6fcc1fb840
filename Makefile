# Quickstart: `make demo` loads the bundled API simulator into DuckDB; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-all lint install mutants

# Everything (every extra, the test tools), with dbt pinned to what installs offline (constraints.txt). uv installs
# the same versions pip would, in a fraction of the time (CI installs on every run); users' `pip install` is
# unchanged. Compiled as pip compiles: where PYTHONDONTWRITEBYTECODE is set (CI), nothing else ever writes the .pyc
# files, and every process of the suite (each CLI run, each dbt) would compile dlt and dbt again.
$(BIN)/kognitos-elt: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e '.[all]'
	touch $@

install: $(BIN)/kognitos-elt

demo: install
	$(BIN)/kognitos-elt demo

# Test modules run side by side, one worker per core (pytest-xdist; a module's tests stay on one worker, so its
# shared loads are made once). `make test-all` adds the exhaustive tests (`exhaustive` marker in pyproject.toml).
PYTEST := $(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadscope
test: install
	$(PYTEST)

test-all: install
	$(PYTEST) -m ""

# mypy cannot follow the editable install's import hook for kognitos_elt (pipelines/ with sources/kognitos/ inside):
# it reads the same layout from a tree of links to the real files.
TYPECHECK := build/typecheck
lint: install
	$(BIN)/ruff check .
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/kognitos_elt
	ln -s $(CURDIR)/pipelines/*.py $(TYPECHECK)/kognitos_elt/
	ln -s $(CURDIR)/sources/kognitos $(TYPECHECK)/kognitos_elt/kognitos
	MYPYPATH=$(TYPECHECK) $(BIN)/mypy -p kognitos_elt -p kognitos_analytics -p kognitos_simulator

# Break the product on purpose (scripts/mutants.py): each mutant must make the tests that name it fail. Not in
# `make test` or CI (each mutant reruns its tests in a copy of the tree); MUTANTS='pattern ...' picks some.
mutants: install
	$(BIN)/python scripts/mutants.py $(MUTANTS)
