# Two set-up commands: `make warehouse` builds the warehouse from the shipped
# data, `make test` runs the whole suite.  Both create the virtual
# environment and install the project first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export GX_ANALYTICS_ENABLED := False
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install warehouse test e2e docs ui benchmark clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

warehouse: $(STAMP)
	$(BIN)/python -m fact22_assets.build

test: $(STAMP)
	$(BIN)/ruff check fact22_assets tests scripts benchmarks
	$(BIN)/python -m pytest

e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e tests/e2e

docs: $(STAMP)
	$(BIN)/python scripts/generate_data_dictionary.py

ui: $(STAMP)
	mkdir -p "$(DAGSTER_HOME)"
	"$(BIN)/dagster" dev --host 127.0.0.1 --port 3000 -w workspace.yaml

benchmark: $(STAMP)
	$(BIN)/python benchmarks/build_benchmark.py
	$(BIN)/python benchmarks/did_vectorised_vs_statsmodels.py

clean:
	rm -rf warehouse .dagster_home .pytest_cache test-artifacts
