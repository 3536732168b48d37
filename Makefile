# Two set-up commands: `make warehouse` builds the warehouse from the shipped
# data, `make test` runs the whole suite.  Both create the virtual
# environment and install the project first.
PYTHON ?= python3
# pytest-xdist workers for `make test` (one per core; the session's build is shared by all).
TEST_WORKERS ?= auto
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export GX_ANALYTICS_ENABLED := False
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
UI_PORT ?= 3000
OUTPUTS_PORT ?= 3001
export FACT22_OUTPUTS_URL ?= http://127.0.0.1:$(OUTPUTS_PORT)

.PHONY: install warehouse calibrate test e2e docs ui sql benchmark mutation clean

# Python 3.11 or 3.12 (pyproject's requires-python); checked before a .venv is
# made, and a failed install removes the half-made .venv so the next try starts clean.
SUPPORTED_PYTHON := import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)

$(STAMP): pyproject.toml
	@$(PYTHON) -c '$(SUPPORTED_PYTHON)' 2>/dev/null || { \
	  echo "fact22-warehouse needs Python 3.11 or 3.12; '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo missing)." >&2; \
	  echo "Install one and run, e.g.: make PYTHON=python3.12 $(MAKECMDGOALS)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	$(BIN)/pip install --quiet --upgrade pip || { rm -rf $(VENV); exit 1; }
	$(BIN)/pip install --quiet -e '.[test]' || { echo "install failed: removed $(VENV)" >&2; rm -rf $(VENV); exit 1; }
	@# numba compiles the DiD solvers here, once (10-20 s of CPU), and caches them: builds then load them in ~1 s.
	$(BIN)/python -c 'import fact22_assets.core.did.frank_wolfe, fact22_assets.core.did.penalised_qp'
	touch $(STAMP)

install: $(STAMP)

warehouse: $(STAMP)
	$(BIN)/python -m fact22_assets.build

# The national placebo study (docs/calibration.md): the calibration job, one partition per outcome the studies
# analyse, on the published warehouse; then a refresh of what depends on its files.  Never part of
# `make warehouse`.  FACT22_CALIBRATION_DIR (default warehouse/calibration/) holds its files.
calibrate: $(STAMP)
	$(BIN)/python -m fact22_assets.calibrate

test: $(STAMP)
	$(BIN)/ruff check fact22_assets tests scripts benchmarks
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e tests/e2e

docs: $(STAMP)
	$(BIN)/python scripts/generate_data_dictionary.py

# The Dagster UI and daemon on UI_PORT, and the published outputs (report, figures,
# explorer) over http on OUTPUTS_PORT, where the UI's links to them point
# (FACT22_OUTPUTS_URL, which `make warehouse` writes into those links too).
# Both on 127.0.0.1 only; stopping the UI stops the outputs server.
ui: $(STAMP)
	mkdir -p "$(DAGSTER_HOME)"
	outputs=$$($(BIN)/python -c 'from fact22_assets.settings import outputs_dir; print(outputs_dir())') && \
	mkdir -p "$$outputs" && \
	{ $(BIN)/python -m http.server --bind 127.0.0.1 --directory "$$outputs" $(OUTPUTS_PORT) >/dev/null 2>&1 & \
	  server=$$!; trap 'kill $$server 2>/dev/null' EXIT INT TERM; \
	  echo "published outputs: $(FACT22_OUTPUTS_URL)/ (from $$outputs)"; \
	  "$(BIN)/dagster" dev --host 127.0.0.1 --port $(UI_PORT) -w workspace.yaml; }

# The published warehouse, read-only, in the DuckDB 1.x command-line client
# (pip duckdb-cli, pinned in pyproject.toml): it never blocks a refresh.
WAREHOUSE_FILE := $(or $(FACT22_WAREHOUSE),warehouse/fact22.duckdb)
sql: $(STAMP)
	@test -f "$(WAREHOUSE_FILE)" || { echo "no warehouse at $(WAREHOUSE_FILE): run make warehouse first" >&2; exit 1; }
	$(BIN)/duckdb -readonly "$(WAREHOUSE_FILE)"

benchmark: $(STAMP)
	$(BIN)/python benchmarks/build_benchmark.py
	$(BIN)/python benchmarks/did_vectorised_vs_statsmodels.py
	$(BIN)/python benchmarks/selection_placebo_scaling.py
	$(BIN)/python benchmarks/calibration_cost.py

# Mutation testing of the pure core (mutmut 3): per module, the share of mutants
# its tests kill.  Slow (minutes per module); MODULES=... to run a few.
mutation: $(STAMP)
	$(BIN)/python scripts/mutation_scores.py $(MODULES)

# Removes what a build made, and a .venv that is broken (no completed install,
# or a Python it cannot run): `make warehouse` then starts from a clean state.
clean:
	rm -rf warehouse .dagster_home .pytest_cache test-artifacts
	@if [ -d $(VENV) ] && { [ ! -f $(STAMP) ] || ! $(BIN)/python -c '$(SUPPORTED_PYTHON)' 2>/dev/null; }; then \
	  echo "removing broken $(VENV)"; rm -rf $(VENV); fi
