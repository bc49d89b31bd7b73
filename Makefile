# Two commands: `make run` (install, seed the embedded database if empty, serve on :8501)
# and `make test` (install with the test extra, run the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 8501

.PHONY: run test seed lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(BIN)/ctower seed --if-empty
	$(BIN)/streamlit run pages/app.py --server.port $(PORT)

test: $(VENV)/.installed
	$(BIN)/pytest -n 2 --dist loadgroup

seed: $(VENV)/.installed
	$(BIN)/ctower seed --reset

lint: $(VENV)/.installed
	$(BIN)/pip install --quiet ruff
	$(BIN)/ruff check core ui pages tests bench

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm
