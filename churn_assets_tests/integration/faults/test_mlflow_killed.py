"""Fault: the MLflow server is SIGKILLed while a model family trains. The step fails in seconds
with a message naming the server, the champion does not move, no registered version lacks its
artifacts, and after the server is started again the same training succeeds."""

import time

import mlflow
import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    load_assets_from_modules,
    materialize,
)
from mlflow import MlflowClient

from churn_assets.defs import features, ingestion, training, validation
from churn_assets.ml.promotion import GateConfig
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.git import GitResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.model_registry import CHAMPION
from churn_assets.resources.parquet_io import LocalParquetIOManager
from churn_assets_tests.integration.faults.mlflow_process import MlflowServerProcess

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.slow]
FAMILY = "logistic_regression"
TRAINED = AssetKey(["trained_models", FAMILY])
DATA = load_assets_from_modules([ingestion, validation, features])
RUN_CONFIG = {"ops": {f"trained_models__{FAMILY}": {"config": {"n_iter": 2, "cv_folds": 3}}}}
GATE = GateConfig(min_metrics={"roc_auc": 0.5}, n_resamples=1000)


@pytest.fixture
def server(tmp_path, monkeypatch):
    # What a deployment sets for run pods: MLflow's own HTTP retries off (the resource retries
    # connection failures itself) and a bounded request timeout.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    tracking, registry_uri = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    process = MlflowServerProcess(tmp_path / "mlflow")
    process.start()
    yield process
    process.close()
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry_uri)


KILLS: list = []  # faults to inject when the next tracked run starts (runs are in process)


class MlflowDiesAtRunStart(MlflowResource):
    """The tracking resource whose server is killed as the family's tracked run starts: after the
    reachability check at setup passed, before the fit and the logging. Deterministic, where a
    watcher of STEP_START races a fit that takes a second."""

    def start_run(self, run_name: str, tags: dict[str, str]):
        while KILLS:
            KILLS.pop()()
        return super().start_run(run_name, tags)


def _train(url: str, base_dir, instance, on_run_start=None):
    if on_run_start is not None:
        KILLS.append(on_run_start)
    resources = {
        "io_manager": LocalParquetIOManager(base_dir=str(base_dir)),
        "dataset": DatasetResource(n_rows=800),
        "metrics": MetricsResource(deployment="test"),
        "mlflow_tracking": MlflowDiesAtRunStart(
            tracking_uri=url, connect_retries=2, retry_seconds=0.5
        ),
        "git": GitResource(),
    }
    try:
        return materialize(
            [*DATA, *training.trained_models],
            selection=[TRAINED],
            resources=resources,
            run_config=RUN_CONFIG,
            instance=instance,
            raise_on_error=False,
        )
    finally:
        KILLS.clear()


def _registry_state(url: str) -> tuple[str | None, list[str]]:
    client = MlflowClient(url, url)
    champion = str(client.get_model_version_by_alias("churn-classifier", CHAMPION).version)
    versions = sorted(
        str(v.version) for v in client.search_model_versions("name='churn-classifier'")
    )
    return champion, versions


def test_mlflow_killed_during_training(server, tmp_path):
    base_dir = tmp_path / "assets"
    instance = DagsterInstance.ephemeral()  # one instance: training reads the features' version
    data = materialize(
        DATA,
        resources={
            "io_manager": LocalParquetIOManager(base_dir=str(base_dir)),
            "dataset": DatasetResource(n_rows=800),
            "metrics": MetricsResource(deployment="test"),
        },
        instance=instance,
    )
    assert data.success

    # A champion exists before the fault: the first training, registered and promoted.
    first = _train(server.url, base_dir, instance)
    assert first.success
    record = first.output_for_node(f"trained_models__{FAMILY}")
    mlflow.set_tracking_uri(server.url)  # models:/ URIs resolve through MLflow's global URIs
    mlflow.set_registry_uri(server.url)
    registry = MlflowResource(tracking_uri=server.url).registry()
    version = registry.register(record["model_uri"], record["mlflow_run_id"], {"threshold": 0.5})
    frame = data.output_for_node("features")
    test = frame[frame["split"] == "test"]
    outcome = registry.promote(
        version, test[record["features"]], test["churned"], record["threshold"], GATE
    )
    assert outcome.promoted, outcome.reason
    before = _registry_state(server.url)

    # The fault: the server dies while the family trains.
    started = time.monotonic()
    failed = _train(server.url, base_dir, instance, on_run_start=server.kill)
    elapsed = time.monotonic() - started
    assert not failed.success
    (failure,) = [e for e in failed.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    error = failure.step_failure_data.error.cause  # Dagster wraps the asset's own error
    message = error.message
    assert error.cls_name == "MlflowUnavailableError", message
    assert server.url in message and "unreachable" in message
    assert elapsed < 300

    # Back up: nothing moved, nothing half-registered, every version loads from its artifacts.
    server.start()
    assert _registry_state(server.url) == before
    for v in before[1]:
        assert mlflow.sklearn.load_model(f"models:/churn-classifier/{v}") is not None

    # ...and the same training succeeds, its run FINISHED with the model logged.
    again = _train(server.url, base_dir, instance)
    assert again.success
    run_id = again.output_for_node(f"trained_models__{FAMILY}")["mlflow_run_id"]
    run = MlflowClient(server.url, server.url).get_run(run_id)
    assert run.info.status == "FINISHED"
    assert (
        mlflow.sklearn.load_model(again.output_for_node(f"trained_models__{FAMILY}")["model_uri"])
        is not None
    )
