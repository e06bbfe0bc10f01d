# Two commands for a fresh machine: `make run` (the whole pipeline on the embedded default)
# and `make test` (the test suite). Everything local lives under .local/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export CHURN_HOME ?= $(CURDIR)/.local
export DAGSTER_HOME ?= $(CHURN_HOME)/dagster_home
JOB ?= training_job
PORT ?= 3000
SERVE_PORT ?= 8080
WORKERS ?= 2

.PHONY: install install-dev run check launch dev serve mlflow-ui demo-drift test lint format bench clean

# Packages are installed with uv (bootstrapped into the venv by pip): the same versions pip
# resolves, in about 17 s instead of about 3 min on a machine with no cache. Bytecode is compiled
# at install, as pip does; otherwise the first run compiles it (about 28 s on two cores).
# uv reads no pip.conf: where only a pip-configured index is reachable, `make install
# INSTALL_WITH=pip`.
INSTALL_WITH ?= uv
UV_VERSION := 0.13.9
ifeq ($(INSTALL_WITH),pip)
INSTALL_PACKAGES = $(BIN)/pip install -q
else
INSTALL_PACKAGES = $(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -q
endif

# `make run` needs only the runtime packages; the dev extra (tests, lint, benchmarks) comes with
# `make test` and friends, so a first result does not wait for it.
$(BIN)/dagster: pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(if $(filter uv,$(INSTALL_WITH)),$(BIN)/pip install -q uv==$(UV_VERSION),$(BIN)/pip install -q --upgrade pip)
	$(INSTALL_PACKAGES) -e .
	touch $@

$(BIN)/pytest: $(BIN)/dagster
	$(INSTALL_PACKAGES) -e '.[dev]'
	touch $@

install: $(BIN)/dagster

install-dev: $(BIN)/pytest

run: install
	$(BIN)/churn-assets run --job $(JOB)

# dg (dagster-dg-cli) reads the project from [tool.dg] in pyproject.toml.
check: install
	$(BIN)/python -c "from churn_assets.local import ensure_local_home; ensure_local_home()"
	$(BIN)/dg check defs

# e.g. make launch JOB=data_job, or make launch ASSETS='*promoted_model'
launch: install
	$(BIN)/python -c "from churn_assets.local import ensure_local_home; ensure_local_home()"
	$(BIN)/dg launch $(if $(ASSETS),--assets '$(ASSETS)',--job $(JOB))

dev: install
	$(BIN)/python -c "from churn_assets.local import ensure_local_home; ensure_local_home()"
	@echo "Dagster UI: http://127.0.0.1:$(PORT)  (DAGSTER_HOME=$(DAGSTER_HOME))"
	$(BIN)/dg dev -h 127.0.0.1 -p $(PORT)

# The local champion (the registry `make run` fills) behind the model server; see README.
serve: install
	$(BIN)/churn-assets serve --host 127.0.0.1 --port $(SERVE_PORT) --workers $(WORKERS)

mlflow-ui: install
	@echo "MLflow UI: http://127.0.0.1:5000"
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CHURN_HOME)/mlflow.db -h 127.0.0.1 -p 5000

demo-drift: install
	$(BIN)/python scripts/demo_drift.py

# Two workers: half the suite waits on servers (MLflow, Postgres, the webserver), so it overlaps
# well on two cores; --dist loadfile keeps each module's fixtures in one worker.
TEST_WORKERS ?= 2

# One OpenMP/BLAS thread per test process: two workers on two cores are busy already, and there
# HistGradientBoosting's and XGBoost's threads spin (a small HGB test file took 178 s, 11 s with one
# thread). The model server sets its own threads (threadpool_limits), whatever this says.
test: install-dev
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf .local
