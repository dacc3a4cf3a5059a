# One entry point for people and CI: make install | run | test | bench | lint
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= data
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?= -n 3

.PHONY: install install-dev system-deps run test bench lint format clean schema

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamp files re-install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[postgres]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/civica serve --data-dir $(DATA) --host $(HOST) --port $(PORT)

# Debian packages some tests use (R, Chromium); best effort, see scripts/system-deps.sh.
system-deps:
	@bash scripts/system-deps.sh

test: install-dev system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-dev
	$(BIN)/python -m benchmarks

lint: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

format: install-dev
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# New Alembic revision from the ORM models (autogenerate against a scratch SQLite database).
migration: install-dev
	rm -f /tmp/civica-migration.db
	$(BIN)/python -c "from alembic import command; from civica.db.migrate import alembic_config, upgrade; from civica.db.engine import make_engine; e = make_engine('sqlite:////tmp/civica-migration.db'); upgrade(e); command.revision(alembic_config(e), message='$(MSG)', autogenerate=True)"
	$(BIN)/ruff format -q src/civica/db/migrations/versions
	$(BIN)/ruff check --fix -q src/civica/db/migrations/versions

# Rebuild the single initial migration from the ORM models (the schema has not shipped yet, so it
# stays one revision). Serialised with flock: several people may edit models at once.
schema: install-dev
	flock /tmp/civica-schema.lock sh -c '\
	  rm -f src/civica/db/migrations/versions/0001_initial_schema.py && \
	  $(MAKE) --no-print-directory migration MSG="initial schema" && \
	  f=$$(ls src/civica/db/migrations/versions/*_initial_schema.py) && \
	  sed -i -e "s/^revision = .*/revision = \"0001\"/" -e "s/^Revision ID: .*/Revision ID: 0001/" "$$f" && \
	  mv "$$f" src/civica/db/migrations/versions/0001_initial_schema.py'
