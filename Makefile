# Two commands: `make run` and `make test`. Everything else here is what they call.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PORT ?= 5000
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(PYTHON) -m uv
FLASK := $(UV) run --frozen --no-sync flask --app wsgi

.PHONY: help run dev test install uv system-deps-run system-deps-test lint format

help:
	@echo "make run   install everything, prepare the SQLite database, serve on http://127.0.0.1:$(PORT)"
	@echo "          with gunicorn (WEB_CONCURRENCY processes, default 2) and the job worker beside it"
	@echo "make dev   the same, served by Flask's development server with debugging and reloading"
	@echo "make test  install everything and run the whole test suite"

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)" \
	  || $(PYTHON) -m pip install --quiet --user --break-system-packages "uv==$(UV_VERSION)"

install: uv
	@$(UV) sync --frozen --quiet --compile-bytecode

system-deps-run:
	@bash scripts/system-deps.sh run

system-deps-test:
	@bash scripts/system-deps.sh test

run: install system-deps-run
	@$(FLASK) lms setup
	@PORT=$(PORT) UV="$(UV)" bash scripts/serve.sh

# Development: one process that reloads on code changes. Jobs run in it right after
# each commit (LMS_QUEUE_URL=immediate) unless LMS_QUEUE_URL says otherwise.
dev: install system-deps-run
	@$(FLASK) lms setup
	@echo "Serving on http://127.0.0.1:$(PORT) with Flask's development server (Ctrl+C to stop)"
	@PORT=$(PORT) LMS_QUEUE_URL="$${LMS_QUEUE_URL:-immediate}" \
	  $(FLASK) run --debug --reload --host 127.0.0.1 --port $(PORT)

test: install system-deps-test
	@$(UV) run --frozen --no-sync ruff check .
	@$(UV) run --frozen --no-sync pytest $(PYTEST_ARGS)

lint: install
	@$(UV) run --frozen --no-sync ruff check .

format: install
	@$(UV) run --frozen --no-sync ruff format lms tests bench migrations/env.py
