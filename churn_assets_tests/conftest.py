"""Fixtures shared by all tests: small seeded data, temporary homes, the shipped public data."""

import os
import sys
from pathlib import Path

import pytest

BIGML_DATA = Path(__file__).resolve().parent / "data" / "bigml"
# The files that take longest in CI (seconds summed over their tests, fresh-clone CI runs), in
# that order. `make test` runs pytest-xdist with `--dist loadfile`, which hands files to the
# workers in collection order: collected last, the dg lineage file alone kept one worker busy
# for 6 to 12 minutes after the other had finished. Started first, the rest fill in beside them.
SLOW_FIRST = (
    "test_dg_cli.py",
    "integration/test_image.py",
    "integration/test_mlflow_server.py",
    "defs/test_outcomes.py",
    "defs/test_training_pipeline.py",
    "defs/test_real_data_auc.py",
    "integration/faults/test_sigkill_write.py",
    "integration/faults/test_mlflow_killed.py",
    "integration/faults/test_postgres_restart.py",
    "defs/test_deployment.py",
    "defs/test_monitoring.py",
    "test_mutation_record.py",
)


def pytest_collection_modifyitems(items):
    """Put the slowest files first (stable: every file keeps its own order of tests)."""
    root = Path(__file__).resolve().parent

    def rank(item) -> int:
        path = Path(str(item.path)).resolve()
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else ""
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own CHURN_HOME and DAGSTER_HOME; nothing leaks into .local/."""
    monkeypatch.setenv("CHURN_HOME", str(tmp_path / "churn_home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    monkeypatch.delenv("CHURN_DATASET_SPEC", raising=False)
    monkeypatch.delenv("CHURN_DEPLOYMENT", raising=False)


@pytest.fixture(scope="module", autouse=True)
def _no_inherited_mlflow_uris():
    """Each module starts with no MLflow tracking/registry URI, in the env or in mlflow's globals.

    `mlflow.set_registry_uri(uri)` also writes MLFLOW_REGISTRY_URI into os.environ and
    `set_registry_uri(None)` leaves it there, so one module's store leaked into the next
    module's subprocesses (a model server once resolved its alias in another module's registry).
    """
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved = {name: os.environ.pop(name, None) for name in names}
    _reset_mlflow_uris()
    yield
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value
    _reset_mlflow_uris()


def _reset_mlflow_uris() -> None:
    if "mlflow" not in sys.modules:  # nothing imported it yet: no global to reset
        return
    import mlflow

    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


@pytest.fixture
def bigml_data() -> Path:
    """The real public telecom churn files shipped in churn_assets_tests/data/bigml/."""
    return BIGML_DATA
