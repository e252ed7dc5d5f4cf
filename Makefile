# Runway: `make run` starts the whole portal, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

# Tests use the real services this machine runs; override to point elsewhere.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/runway
TEST_BROKER_URL ?= redis://127.0.0.1:6379/0
PYTEST_WORKERS ?= 4

.PHONY: run processes test lint format pytest browser migrate demo clean help bench

help:
	@echo "make run    start web, Celery worker and beat, and the cluster simulator, with demo data"
	@echo "make test   lint + the whole test suite against PostgreSQL and Redis"
	@echo "make pytest ARGS='tests/audit -k chain'   run some tests only"
	@echo "make bench  load a large organisation into PostgreSQL and measure (benchmarks/README.md)"

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependencies change.
$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

install: $(VENV)/.installed

migrate: install
	mkdir -p "$${RUNWAY_VAR_DIR:-var}/celery"  # the beat schedule, whatever the broker
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

run: export DEBUG ?= 1
run: demo
	@echo ""
	@echo "  Runway is starting on http://127.0.0.1:$(PORT)/"
	@echo "  Demo sign-ins (password: runway-demo):"
	@echo "    dev, dev2   developers (payments, search)     rm, rm2   release managers"
	@echo "    lead        leadership (read-only)            admin     platform admin"
	@echo "  Database: $${DATABASE_URL:-SQLite under var/}   Broker: $${CELERY_BROKER_URL:-file system under var/}"
	@echo "  Ctrl-C stops everything."
	@echo ""
	@$(MAKE) --no-print-directory processes

# honcho gives each process a PORT of its own (the web's, then 100 more for each next one):
# every process gets the web's address as RUNWAY_BASE_URL, so the worker's links point there.
PROCFILE ?= Procfile
processes:
	PATH="$(CURDIR)/$(BIN):$$PATH" PORT=$(PORT) \
	RUNWAY_BASE_URL="$${RUNWAY_BASE_URL:-http://127.0.0.1:$(PORT)}" \
	$(BIN)/honcho start -f $(PROCFILE)

# mypy's Django plugin imports the settings: development mode needs no secrets to do so.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Debian's Chromium drives the browser tests (a test tool's own browser download cannot work
# here); kubectl checks that the cluster simulator speaks the real Kubernetes API.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "!!! /usr/bin/chromium is missing and cannot be installed here: browser tests will be SKIPPED."; \
		echo "!!! Install it with: sudo apt-get install chromium"; \
	fi
	@if command -v kubectl >/dev/null; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's kubernetes-client (kubectl) for the simulator tests…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null; \
	else \
		echo "!!! kubectl is missing: the simulator's kubectl tests will be SKIPPED (apt-get install kubernetes-client)."; \
	fi

# Four workers on two cores: most of the slow tests wait on processes (workers, brokers, the
# simulator, Chromium) rather than compute. Each worker has a test database of its own;
# PYTEST_WORKERS=0 runs in this process. The 20 slowest tests are listed at the end.
# Compiled modules are kept, whatever PYTHONDONTWRITEBYTECODE says: the Celery workers,
# simulators and commands that tests start (a few hundred) then load Runway's modules rather
# than compile them again each.
pytest: install
	PYTHONDONTWRITEBYTECODE= \
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	CELERY_BROKER_URL="$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)}" \
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=20 $(ARGS)

test: lint browser
	$(MAKE) --no-print-directory pytest

# The benchmark makes its own databases (runway_bench, runway_bench_backstage) on the PostgreSQL
# server at BENCH_POSTGRES and uses Redis db 7; BENCH_ARGS passes options, e.g. "--scale 0.05",
# or "--backstage" to install Backstage's catalog backend from npm and measure it in the run.
bench: install
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
