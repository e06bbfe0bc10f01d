"""A local MLflow store made in a child process (`prepare_local_store`): the ordinary sqlite store,
made under the same lock the resource takes, and only when there is something to make."""

import sqlite3
import subprocess
import sys
import time

from mlflow import MlflowClient

from churn_assets.resources.mlflow_store import (
    local_store_path,
    prepare_local_store,
    store_creation_lock,
)
from churn_assets.resources.mlflow_tracking import MlflowResource


def _tables(db) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}


def test_the_child_makes_the_store_the_resource_and_client_then_use(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    child = prepare_local_store(uri, tmp_path / "logs" / "store.log")
    assert child is not None
    assert child.wait(timeout=120) == 0, (tmp_path / "logs" / "store.log").read_text()
    assert {"experiments", "runs", "registered_models", "alembic_version"} <= _tables(
        tmp_path / "mlflow.db"
    )
    MlflowResource(tracking_uri=uri).check()  # opens it without migrating again
    names = [e.name for e in MlflowClient(uri).search_experiments()]
    assert names == ["Default"]


def test_nothing_is_started_for_an_existing_store_or_a_server(tmp_path):
    (tmp_path / "mlflow.db").write_bytes(b"")
    assert prepare_local_store(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "log") is None
    assert prepare_local_store("http://mlflow:5000", tmp_path / "log") is None
    assert local_store_path("http://mlflow:5000") is None


def test_the_child_waits_for_the_store_lock_before_it_touches_the_database(tmp_path):
    """While another process (here: this test) holds the lock, the child creates nothing; so a
    step that took the lock first is never raced."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with store_creation_lock(uri):
        child = prepare_local_store(uri, tmp_path / "store.log")
        # Long enough for the child to import MLflow and migrate, had it not waited.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and child.poll() is None:
            assert not (tmp_path / "mlflow.db").exists()
            time.sleep(0.5)
        assert child.poll() is None, "the child finished while the lock was held"
    assert child.wait(timeout=120) == 0
    assert "experiments" in _tables(tmp_path / "mlflow.db")


def test_a_failing_child_says_why_in_its_log(tmp_path):
    """A store that cannot be made (its folder is a file): the child fails and its log has
    MLflow's error; the caller's own first use reports it again."""
    (tmp_path / "blocked").write_text("a file, not a folder")
    uri = f"sqlite:///{tmp_path / 'blocked' / 'mlflow.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "churn_assets.resources.mlflow_store", uri],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "blocked" in result.stderr
