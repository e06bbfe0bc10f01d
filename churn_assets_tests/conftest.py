"""Fixtures shared by all tests: small seeded data, temporary homes, the shared public data."""

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("CHURN_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared/data")
)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own CHURN_HOME and DAGSTER_HOME; nothing leaks into .local/."""
    monkeypatch.setenv("CHURN_HOME", str(tmp_path / "churn_home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    monkeypatch.delenv("CHURN_DATASET_SPEC", raising=False)
    monkeypatch.delenv("CHURN_DEPLOYMENT", raising=False)


@pytest.fixture
def shared_data(monkeypatch) -> Path:
    """The real public telecom churn files in ../shared/data; skips where they are absent."""
    if not (SHARED_DATA / "churn-bigml-80.csv").exists():
        pytest.skip(f"real churn data not found at {SHARED_DATA} (../shared is absent here)")
    monkeypatch.setenv("CHURN_SHARED_DATA", str(SHARED_DATA))
    return SHARED_DATA
