# OutcomePortal — `make help` lists the targets.
#
# The two commands of the README's quick start:
#   make demo   set up .venv, migrate, seed the demo world, run web + worker on 127.0.0.1:8000
#   make test   ruff, migrations check and the test suite
#
# With no DATABASE_URL everything runs on the embedded PostgreSQL in .data/pg (started on
# first use, shared by web, worker, commands and tests; `make db-stop` stops it).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000
EVENTS ?= 250000
DAYS ?= 90
SEED ?= 42
PYTEST_ARGS ?=
BENCH_EVENTS ?=
FUZZ_EXAMPLES ?= 100
FUZZ_SEED ?= 20261101

.DEFAULT_GOAL := help
.PHONY: help install install-dev demo run run-all worker migrate seed schedules test lint format check-migrations \
	pytest fuzz screenshots bench bench-portal backup restore db-stop clean-venv

help: ## List the targets
	@echo "OutcomePortal — make targets:"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-17s %s\n", $$1, $$2}'
	@echo "Variables: PYTHON=$(PYTHON) HOST=$(HOST) PORT=$(PORT) EVENTS=$(EVENTS) DAYS=$(DAYS) SEED=$(SEED) PYTEST_ARGS=..."

# --- environment ----------------------------------------------------------------------------

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "OutcomePortal needs Python 3.11 or newer; run e.g. make demo PYTHON=python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV) || \
		{ echo "Could not create $(VENV). On Debian/Ubuntu: sudo apt install python3-venv"; exit 1; }
	-$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed ## Create .venv and install requirements.txt (again only when it changes)

install-dev: $(VENV)/.installed-dev ## The same with requirements-dev.txt (tests, ruff, benchmarks)

# --- the demo -------------------------------------------------------------------------------

# The demo runs with DEBUG on (static files straight from static/, detailed error pages).
demo run run-all worker: export DEBUG ?= true
# ...and lets the demo's vendor staff sign in with the published password alone (production asks
# staff for a code from an authenticator app too; docs/security.md). Set it to true to try that.
demo run run-all: export OTP_REQUIRED_FOR_STAFF ?= false
# Its emails (invoices, alerts, dispute news, invitations) are written to .data/mail/, one file each
# (EMAIL_FILE_PATH); DEMO_EMAILS=console prints them in the terminal instead. An EMAIL_BACKEND of yours wins.
DEMO_EMAILS ?= file
DEMO_EMAIL_BACKEND := django.core.mail.backends.$(if $(filter console,$(DEMO_EMAILS)),console,filebased).EmailBackend
demo run run-all worker seed: export EMAIL_BACKEND ?= $(DEMO_EMAIL_BACKEND)

# Quiet on purpose: one line for the migrations (scripts/migrate_quietly.py; errors still show), the
# seed's progress bar and summary, then its sign-in banner and tour (the real HOST:PORT) as the last
# lines before the web and worker logs.
demo: install ## Quick start: migrate, schedules, seed if empty, then web + worker on 127.0.0.1:8000
	@$(PY) scripts/migrate_quietly.py
	@$(MANAGE) setup_schedules -v0
	@DEBUG=false $(MANAGE) seed_demo --if-empty --events $(EVENTS) --days $(DAYS) --seed $(SEED) --host $(HOST) --port $(PORT)
	@if [ "$$DEBUG" != "true" ]; then $(MANAGE) collectstatic --noinput -v0; fi
	@$(PY) scripts/run_portal.py --host $(HOST) --port $(PORT) --no-banner

run: install ## Web only, runserver with auto-reload on 127.0.0.1:8000
	$(MANAGE) runserver $(HOST):$(PORT)

run-all: install ## Web + worker together (scripts/run_portal.py), without migrating or seeding
	$(PY) scripts/run_portal.py --host $(HOST) --port $(PORT)

worker: install ## The django-q2 worker (qcluster) that runs the scheduled jobs
	$(MANAGE) qcluster

migrate: install ## Apply database migrations
	$(MANAGE) migrate --noinput

seed: install migrate ## Rebuild the demo world from scratch (EVENTS=250000 DAYS=90 SEED=42)
	DEBUG=false $(MANAGE) seed_demo --reset --events $(EVENTS) --days $(DAYS) --seed $(SEED) --host $(HOST) --port $(PORT)

schedules: install ## Create or update the django-q2 schedules of the recurring jobs
	$(MANAGE) setup_schedules

# --- quality --------------------------------------------------------------------------------

test: install-dev lint check-migrations pytest ## Everything CI runs: ruff, migrations check, pytest

lint: install-dev ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev ## Apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check-migrations: install-dev ## Fail if a model change has no migration
	$(MANAGE) makemigrations --check --dry-run

pytest: install-dev ## The test suite only (PYTEST_ARGS="-k ingest -x" to narrow it)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

fuzz: install-dev ## The API fuzz run at length: FUZZ_EXAMPLES=100 per operation, every phase, vendor and customer keys
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) FUZZ_COVERAGE=1 FUZZ_REPORT=$(or $(FUZZ_REPORT),.data/fuzz-report.tsv) \
		$(VENV)/bin/pytest tests/api/test_schema_fuzz.py --durations=5 $(PYTEST_ARGS)
	@$(PY) bench/fuzz_report.py $(or $(FUZZ_REPORT),.data/fuzz-report.tsv)

screenshots: install-dev ## Full-page screenshots of every page, every role, at 1,280, 1,440 and 390 px, in artifacts/screenshots/
	$(VENV)/bin/pytest tests/browser/screenshots.py $(PYTEST_ARGS)
	@echo "Screenshots in artifacts/screenshots/<role>/<page>-<width>.png"

# --- benchmarks (their own databases; see bench/README.md) ----------------------------------

bench: install-dev ## Ingestion over HTTP and settlement benchmarks (BENCH_EVENTS=50000 for a quick run)
	$(PY) bench/ingest_http.py $(if $(BENCH_EVENTS),--events $(BENCH_EVENTS))
	$(PY) bench/settle.py $(if $(BENCH_EVENTS),--events $(BENCH_EVENTS))

bench-portal: install-dev ## Audit portal benchmark on a big account (long: 10M events by default)
	$(PY) bench/portal.py $(if $(BENCH_EVENTS),--events $(BENCH_EVENTS))

# --- backups (scripts/backup.py; docs/operations.md) -----------------------------------------

backup: install ## Back up the database (pg_dump, custom format) to .data/backups/, or FILE=path
	$(PY) scripts/backup.py backup $(if $(FILE),--output "$(FILE)")

restore: install ## Restore FILE=path into an empty database (CLEAN=1: replace what it holds)
	@test -n "$(FILE)" || { echo "make restore FILE=path/to/backup.dump [CLEAN=1]"; exit 2; }
	$(PY) scripts/backup.py restore "$(FILE)" $(if $(CLEAN),--clean)

# --- housekeeping ---------------------------------------------------------------------------

db-stop: ## Stop the embedded PostgreSQL (.data/pg) once nothing uses it; the next command starts it again
	$(PY) scripts/db_stop.py $(if $(FORCE),--force)

clean-venv: ## Remove .venv (the database in .data is kept)
	rm -rf $(VENV)
