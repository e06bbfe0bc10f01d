"""Fixtures shared by all tests: small seeded data, temporary homes, the shipped public data."""

import os
import sys
from pathlib import Path

import pytest

BIGML_DATA = Path(__file__).resolve().parent / "data" / "bigml"


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
