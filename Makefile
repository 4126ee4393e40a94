# Everything a fresh machine needs: `make demo`, `make test`, `make bench`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The suite runs under a reaper of its own: these machines' PID 1 does not reap
# orphans promptly, and a leaked zombie would confuse later tests.
REAPER := unshare -fp --mount-proc $(BIN)/pyinit --grace 2 --

.PHONY: venv demo test lint typecheck unit integration bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: venv
	unshare -fp --mount-proc $(BIN)/pyinit -v -- sh scripts/demo.sh

lint: venv
	$(BIN)/ruff check pyinit tests integration
	$(BIN)/ruff format --check pyinit tests integration

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests

integration: venv
	$(REAPER) $(BIN)/pytest integration

test: lint typecheck
	$(REAPER) $(BIN)/pytest tests integration

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
