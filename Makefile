# Two commands: `make run` (install, seed the embedded database if empty, start the simulator in
# the background, serve on 127.0.0.1:8501) and `make test` (install with the test extra, run the whole
# suite). `make test-fast` skips the tests marked slow; `make lint` runs ruff check, ruff format
# --check and mypy (strict over core and ui, configured in pyproject.toml).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 8501
# This machine only; `make run ADDRESS=0.0.0.0` serves the network (README: refused while a demo
# user keeps the demo password).
ADDRESS ?= 127.0.0.1
SIM_LOG ?= data/simulator.log
# glibc malloc for the server: its threads allocate and free multi-MB frames of map and KPI data.
# One arena per thread keeps that memory fragmented long after it is freed, and so does glibc's
# habit of raising its mmap threshold (up to 32 MB) after the first big free: with it fixed at
# 128 KiB every frame is its own mapping, given back to the system when freed.
MALLOC_ARENAS ?= 2
MALLOC_MMAP_BYTES ?= 131072

.PHONY: run test test-fast seed lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# The simulator plans the demo day if needed and moves it at 60x in the background (its log in
# $(SIM_LOG)); it stops when the app stops, Ctrl-C included.
run: $(VENV)/.installed
	$(BIN)/ctower seed --if-empty
	@echo "simulator: ctower simulate --speed 60 --plan allocator --latest-day (log: $(SIM_LOG))"
	@PYTHONUNBUFFERED=1 $(BIN)/ctower simulate --speed 60 --plan allocator --latest-day > $(SIM_LOG) 2>&1 & sim=$$!; \
	trap 'kill $$sim 2>/dev/null' EXIT INT TERM; \
	MALLOC_ARENA_MAX=$(MALLOC_ARENAS) MALLOC_MMAP_THRESHOLD_=$(MALLOC_MMAP_BYTES) $(BIN)/streamlit run pages/app.py --server.port $(PORT) --server.address $(ADDRESS)

# The browser tests run last and one at a time: a page that reruns slowly while the other worker
# solves can drop a click.
test: $(VENV)/.installed
	$(BIN)/pytest -n 2 --dist loadgroup -m "not e2e"
	$(BIN)/pytest -m e2e tests/e2e

# Every page and browser test is slow, so only tests/core is collected (no Streamlit import).
test-fast: $(VENV)/.installed
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow" tests/core

seed: $(VENV)/.installed
	$(BIN)/ctower seed --reset

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test,dev]"
	touch $@

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check core ui pages tests bench
	$(BIN)/ruff format --check core ui pages tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm
