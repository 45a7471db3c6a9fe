# Kaimen: `make run` starts everything on the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: run test lint migrate seed bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(BIN)/python requirements.txt
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.runtime
	$(BIN)/python -m kaimen_core migrate

seed: migrate
	$(BIN)/python -m kaimen_core seed-demo

## run: install, migrate, create Demo Salon once (printing its sign-in), then serve the
## app on http://127.0.0.1:8501 and the webhook sidecar on http://127.0.0.1:8502.
## One Ctrl-C stops both.
run: seed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile --port 8501

## test: the whole suite, in TEST_PROCESSES processes side by side (pytest-xdist; 0 runs it
## in one). PostgreSQL tests run when KAIMEN_TEST_POSTGRES_URL is set and browser tests
## when Chromium is installed; otherwise they skip and say why.
TEST_PROCESSES ?= 2
test: $(VENV)/.dev
	$(BIN)/python -m pytest -n $(TEST_PROCESSES)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

bench: $(VENV)/.dev
	$(BIN)/python bench/session_check.py
	$(BIN)/python bench/bookings_availability.py
	$(BIN)/python bench/bookings_concurrency.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
