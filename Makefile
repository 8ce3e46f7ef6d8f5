# strokecell: every target does its own set-up on a fresh machine.
#   make demo   the reference trial, as far as it exists, end to end
#   make test   the whole test suite
#   make bench  benchmarks, JSON on stdout
#   make lint   ruff + mypy strict on src/

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Tests spread over both cores; override with make test PYTEST_WORKERS=1
PYTEST_WORKERS ?= 2

.PHONY: all demo test lint bench venv clean

all: test

# Set-up output goes to stderr so that `make bench` prints nothing but its JSON on stdout.
$(STAMP): pyproject.toml constraints.txt
	@echo "setting up $(VENV) (pinned by constraints.txt)" >&2
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --upgrade "pip>=24" >&2
	@$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]' >&2
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/strokecell demo

# The PostgreSQL cases run against a throwaway server started here and stopped on any exit.
test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy src
	scripts/ensure-system-deps.sh
	scripts/test-postgres.sh start >/dev/null
	trap 'scripts/test-postgres.sh stop >/dev/null' EXIT; \
	  STROKECELL_TEST_PG_URL="$$(cat .pg-test/url)" $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy src

bench: $(STAMP)
	@$(BIN)/python bench/run.py $(BENCH)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache demo-output
