# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint

$(BIN)/hrbot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/hrbot

setup: $(BIN)/hrbot

# Embedded PostgreSQL + pgvector, the sample company's policies, then a few searches.
demo: setup
	$(BIN)/hrbot ingest bot/demo/data/policies --source brightwave
	$(BIN)/hrbot search "how many vacation days do I get in germany"
	$(BIN)/hrbot search "can i carry over pto into next year" --country US --k 3

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -p no:cacheprovider
