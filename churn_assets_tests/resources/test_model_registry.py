"""ModelRegistry loads a version through its own client, whatever MLflow's global URIs say."""

import mlflow
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from churn_assets.resources.mlflow_tracking import MlflowResource


@pytest.fixture(autouse=True)
def _restore_global_uris():
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    yield
    mlflow.set_tracking_uri(before[0])
    mlflow.set_registry_uri(before[1])


def test_load_reads_the_version_from_its_own_store_not_the_global_registry(tmp_path):
    store = MlflowResource(
        tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
        artifact_location=str(tmp_path / "artifacts"),
        connect_retries=0,
    )
    mlflow.set_tracking_uri(store.tracking_uri)
    experiment = mlflow.create_experiment("e", artifact_location=str(tmp_path / "artifacts"))
    fitted = make_pipeline(LogisticRegression()).fit(np.arange(20.0).reshape(10, 2), [0, 1] * 5)
    with mlflow.start_run(experiment_id=experiment) as run:
        info = mlflow.sklearn.log_model(fitted, name="model")
    registry = store.registry()
    version = registry.register(info.model_uri, run.info.run_id, {})

    # Another store is global now (as after a step's resource teardown): load must not look there.
    elsewhere = f"sqlite:///{tmp_path}/elsewhere.db"
    mlflow.set_tracking_uri(elsewhere)
    mlflow.set_registry_uri(elsewhere)
    loaded = registry.load(version)

    probe = np.array([[1.0, 2.0], [15.0, 16.0]])
    np.testing.assert_allclose(loaded.predict_proba(probe), fitted.predict_proba(probe))
