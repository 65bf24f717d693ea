# Two commands do all setup on a fresh machine with only python3:
#   make run    the main job (the whole asset graph on the embedded defaults)
#   make test   the test suite (what .ci/run runs)
# Both create .venv and install the project on first use (again only when
# pyproject.toml or constraints.txt change).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test lint dev web migrate fit-confidence check-ui constraints clean

help:
	@echo "make run       materialise the whole asset graph (embedded Postgres, offline data)"
	@echo "make test      run the test suite"
	@echo "make lint      ruff, mypy and the layering contracts (import-linter)"
	@echo "make dev       Dagster webserver + daemon on http://127.0.0.1:3000"
	@echo "make web       talent.yoga on http://127.0.0.1:8000: the pages at /, the JSON API under /api/v1"
	@echo "make bench-X   benchmark bench/X.py (see bench/)"
	@echo "make check-ui  Dagster's UI in a headless browser: lineage and partitions pages (after make run)"
	@echo "make fit-confidence  re-fit the label confidence model on bench/data (after changing the search)"

# --no-compile: Python compiles what is imported on first use instead of every file of every package at install
# (the install takes about half as long).
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tyctl run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

dev: $(STAMP)
	$(BIN)/tyctl dev

web: $(STAMP)
	$(BIN)/tyctl web

migrate: $(STAMP)
	$(BIN)/tyctl migrate

bench-%: $(STAMP)
	$(BIN)/python -m bench.$(subst -,_,$*)

# Dagster's UI in a headless browser, over the data `make run` left (ty_testing/dagster_ui.py; needs a Chromium).
check-ui: $(STAMP)
	$(BIN)/python -m ty_testing.dagster_ui

# Re-fit the label confidence model (ty_resources/data/label_confidence.json) after changing the search.
fit-confidence: $(STAMP)
	$(BIN)/python -m bench.fit_confidence --write

# Re-pin every installed distribution after changing dependencies in pyproject.toml.
constraints: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check | grep -v '^talent-yoga-data' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache
