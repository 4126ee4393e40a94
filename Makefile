# Everything a fresh machine needs: `make demo`, `make test`, `make bench`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The suite runs under a reaper of its own: these machines' PID 1 does not reap
# orphans promptly, and a leaked zombie would confuse later tests.
REAPER := unshare -fp --mount-proc $(BIN)/pyinit --grace 2 --

.PHONY: venv demo test lint typecheck unit integration containers containers-down test-run bench bench-deps bench-smoke clean

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

# The runtimes for integration/test_containers.py (private dockerd, podman config,
# base image, zipapp init): idempotent and cached (about a minute the first time,
# seconds after). Run here, not inside the suite: the suite runs in a PID namespace
# of its own, and a dockerd started there would die with it. Without root, or if it
# fails, the container tests skip and say why.
containers:
	@if [ "$$(id -u)" != 0 ]; then echo "containers: not root, the container tests will skip" >&2; \
	elif ! scripts/containers/setup.sh >/dev/null; then \
	    echo "WARNING: scripts/containers/setup.sh failed: the container tests will skip" >&2; fi

# The whole run is a subreaper's subtree (pyinit, not PID 1): the private dockerd that
# `containers` daemonizes is re-parented to it, not to the machine's init, and is stopped
# again whatever the result, so a test run leaves no process and no zombie behind (the
# caches stay: the next setup takes seconds).
test: lint typecheck
	$(BIN)/pyinit --grace 30 -- $(MAKE) -s test-run

test-run: containers
	$(REAPER) $(BIN)/pytest tests integration; status=$$?; $(MAKE) -s containers-down; exit $$status

containers-down:
	@if [ "$$(id -u)" = 0 ]; then scripts/containers/teardown.sh 2>/dev/null || true; fi

# Benchmarks against tini, dumb-init, catatonit and supervisord (benchmarks/run.py).
# The references are installed first (apt-get, pip; idempotent); the harness runs
# under a reaper of its own, which collects what non-subreaper inits orphan.
# BENCH_ARGS: e.g. --json bench.json, --only startup,signals, --seed N.
# The chart (benchmarks/bench.png, shown in the README) needs matplotlib: the bench
# extra, never a dependency of pyinit itself.
bench: bench-deps
	$(BIN)/python benchmarks/run.py --install-only
	$(REAPER) $(BIN)/python benchmarks/run.py --chart benchmarks/bench.png $(BENCH_ARGS)

bench-deps: venv
	$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/pip install -q -e '.[test,bench]'

# CI: checks the harness works (seconds), not how fast anything is.
bench-smoke: venv
	$(MAKE) bench-deps || echo "bench: could not install matplotlib; the chart is skipped"
	$(BIN)/python benchmarks/run.py --install-only || echo "bench: could not install the references; they are skipped"
	$(REAPER) timeout 240 $(BIN)/python benchmarks/run.py --smoke --chart .cache/bench/smoke.png $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
