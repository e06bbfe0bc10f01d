"""Fixtures shared by all tests: small seeded data, temporary homes, the shipped public data."""

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


@pytest.fixture
def bigml_data() -> Path:
    """The real public telecom churn files shipped in churn_assets_tests/data/bigml/."""
    return BIGML_DATA
