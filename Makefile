# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit bench soak clean browser

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The editable install leaves src/ without bytecode, and with PYTHONDONTWRITEBYTECODE set
# every command would compile its modules again at start: compile them once here.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m compileall -q src
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
# The Jenkins and Ant JUnit XSDs the JUnit tests validate against, from a pinned npm package
# (checked against its sha512), never copied into the repository.
SCHEMAS_STAMP := tests/schemas/.fetched/.installed-$(shell cat tests/schemas/schemas.json | cksum | cut -d' ' -f1)

$(SCHEMAS_STAMP): tests/schemas/schemas.json tests/schemas/fetch.py
	$(PY) tests/schemas/fetch.py
	rm -f tests/schemas/.fetched/.installed-* && touch $@

# The web pages' browser tests drive Debian's chromium (Playwright's own browser download is
# not used) and sign in through a real OpenID provider (tests/web/oidc, run with node).
OIDC_STAMP := tests/web/oidc/node_modules/.package-lock.json

browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

$(OIDC_STAMP): tests/web/oidc/package-lock.json
	cd tests/web/oidc && npm ci --no-audit --no-fund

unit: $(STAMP) $(SCANNERS_STAMP) $(SCHEMAS_STAMP) browser $(OIDC_STAMP)
	CLEARANCE_REQUIRE_SCANNERS=1 $(BIN)/python -m pytest -n auto

test: lint typecheck unit

# BENCH_FULL=1 adds the heavy sizes (10^4 evidence files, 1 GiB artifacts; 4 GiB with
# BENCH_4GIB=1 where the disk has room).
BENCH_STAMP := $(VENV)/.bench-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	rm -f $(VENV)/.bench-* && touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m compileall -q src
	$(BIN)/python bench/run.py

soak: $(STAMP)
	CLEARANCE_SOAK=1 $(BIN)/python -m pytest -m soak tests

clean:
	rm -rf $(VENV) $(SCANNERS) clearance-demo .clearance bench/results.json
