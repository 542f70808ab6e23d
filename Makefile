# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit bench soak clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

# The scanners the findings tests run (Semgrep, Checkov, Bandit) pin versions of the
# project's own dependencies, so they live in an environment of their own.
SCANNERS := .venv-scanners
SCANNERS_STAMP := $(SCANNERS)/.installed-$(shell cat tests/scanners/requirements.txt | cksum | cut -d' ' -f1)

$(SCANNERS_STAMP): tests/scanners/requirements.txt
	$(PY) -m venv $(SCANNERS)
	$(SCANNERS)/bin/python -m pip install -q -r tests/scanners/requirements.txt
	rm -f $(SCANNERS)/.installed-* && touch $@

demo: $(STAMP)
	$(BIN)/clearance demo $(DIR)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src/clearance/core src/clearance/services

# One worker per core (pytest-xdist). PostgreSQL runs use CLEARANCE_TEST_DATABASE_URL, else a
# throwaway server that tests/conftest.py starts once and stops at the end.
unit: $(STAMP) $(SCANNERS_STAMP)
	CLEARANCE_REQUIRE_SCANNERS=1 $(BIN)/python -m pytest -n auto

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/run.py

soak: $(STAMP)
	CLEARANCE_SOAK=1 $(BIN)/python -m pytest -m soak tests

clean:
	rm -rf $(VENV) $(SCANNERS) clearance-demo .clearance bench/results.json
