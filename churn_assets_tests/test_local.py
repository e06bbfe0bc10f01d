"""The embedded default: what `make run` and `churn-assets serve` set up locally."""

import os
from pathlib import Path

from churn_assets.local import ensure_local_home, use_local_mlflow


def test_serve_setup_points_at_the_local_store_and_writes_nothing(tmp_path, monkeypatch):
    """The model server runs with a read-only root file system: its setup must not write."""
    monkeypatch.setenv("CHURN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    use_local_mlflow()
    assert os.environ["MLFLOW_TRACKING_URI"] == f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}"
    assert not (tmp_path / "home").exists()
    assert list(Path(os.environ["DAGSTER_HOME"]).iterdir()) == []  # no dagster.yaml written


def test_a_tracking_uri_already_set_wins(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    use_local_mlflow()
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"


def test_run_setup_gives_the_local_home_its_instance_yaml(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    home = ensure_local_home()
    assert home == Path(tmp_path / "dagster_home").resolve()
    assert "sqlite" in (home / "dagster.yaml").read_text().lower()
