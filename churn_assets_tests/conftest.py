"""Fixtures shared by all tests: small seeded data, temporary homes, the shared public data."""

import os
from pathlib import Path

import pytest

from churn_assets_tests.integration.services import require_service

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


def shared_data_dir(folder: Path) -> Path:
    """`folder` when it holds the BigML files; else skip (fail with CHURN_REQUIRE_SERVICES=1)."""
    if not (folder / "churn-bigml-80.csv").exists():
        require_service(False, f"real churn data not found at {folder} (../shared is absent here)")
    return folder


@pytest.fixture
def shared_data(monkeypatch) -> Path:
    """The real public telecom churn files in ../shared/data; skips where they are absent."""
    monkeypatch.setenv("CHURN_SHARED_DATA", str(shared_data_dir(SHARED_DATA)))
    return SHARED_DATA
