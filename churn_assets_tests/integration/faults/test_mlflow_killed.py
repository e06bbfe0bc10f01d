"""Fault: the MLflow server is SIGKILLed while a model family trains. The step fails in seconds
with a message naming the server, the champion does not move, no registered version lacks its
artifacts, and after the server is started again the same training succeeds."""

import threading
import time

import mlflow
import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    EventRecordsFilter,
    load_assets_from_modules,
    materialize,
)
from mlflow import MlflowClient

from churn_assets.defs import features, ingestion, training, validation
from churn_assets.ml.promotion import GateConfig
from churn_assets.resources.dataset import DatasetResource
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


def _train(url: str, base_dir, instance, on_step_start=None):
    resources = {
        "io_manager": LocalParquetIOManager(base_dir=str(base_dir)),
        "dataset": DatasetResource(n_rows=800),
        "metrics": MetricsResource(deployment="test"),
        "mlflow_tracking": MlflowResource(tracking_uri=url, connect_retries=2, retry_seconds=0.5),
    }
    done = threading.Event()
    earlier_runs = {run.run_id for run in instance.get_runs()}
    if on_step_start is not None:

        def watch() -> None:  # kill as soon as this run's training step has started
            while not done.is_set():
                started = instance.get_event_records(
                    EventRecordsFilter(event_type=DagsterEventType.STEP_START)
                )
                if any(r.event_log_entry.run_id not in earlier_runs for r in started):
                    on_step_start()
                    return
                time.sleep(0.05)

        threading.Thread(target=watch, daemon=True).start()
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
        done.set()


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
    failed = _train(server.url, base_dir, instance, on_step_start=server.kill)
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
