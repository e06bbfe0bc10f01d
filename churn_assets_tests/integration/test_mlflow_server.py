"""The training lineage against a real MLflow tracking server: runs and registry in PostgreSQL,
artifacts proxied by the server into a (moto) S3 bucket, Dagster assets in S3 as well."""

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator

import mlflow
import pandas as pd
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    build_input_context,
    load_assets_from_modules,
    materialize,
)
from dagster_aws.s3 import S3Resource
from mlflow import MlflowClient

from churn_assets.defs import evaluation, features, ingestion, registry, training, validation
from churn_assets.ml.models import FAMILIES
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.git import GitResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.mlflow_tracking import MlflowResource, MlflowUnavailableError
from churn_assets.resources.model_registry import CHAMPION
from churn_assets.resources.parquet_io import S3ParquetIOManager
from churn_assets_tests.integration.postgres import postgres_database
from churn_assets_tests.integration.services import (
    find_executable,
    free_port,
    require_service,
    wait_for_http,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ASSETS = load_assets_from_modules([ingestion, validation, features, training, evaluation, registry])
CHECKS = [registry.champion_loads_and_scores, registry.champion_meets_thresholds]
MODEL_NAME = "churn-classifier"
RUN_CONFIG = {
    "ops": {
        **{
            f"trained_models__{f}": {"config": {"n_iter": 2, "cv_folds": 3, "refit_trees": 100}}
            for f in FAMILIES
        },
        # 3000 synthetic rows: a gate low enough that the first version surely becomes champion.
        "promoted_model": {"config": {"min_metrics": {"roc_auc": 0.55}, "n_resamples": 1000}},
    }
}
# MLflow's HTTP client retries a refused connection 7 times with exponential backoff (minutes)
# inside every call, under MlflowResource's own retries; bound it so failures surface quickly.
FAST_FAILING_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


@pytest.fixture(autouse=True)
def _restore_mlflow_uris():
    """The resource sets MLflow's process-wide URIs; put them back after each test."""
    tracking, registry_uri = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    yield
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry_uri)


def _stop_group(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the process group we started (its pid is the group id), then SIGKILL it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def mlflow_server(s3_endpoint, s3_bucket) -> Iterator[str]:
    """`mlflow server` on PostgreSQL with artifacts proxied to s3://<bucket>/mlflow; its URL."""
    executable = find_executable("mlflow")
    require_service(executable is not None, "the mlflow CLI is not beside Python or on PATH")
    with postgres_database("churn_mlflow") as db, tempfile.TemporaryFile() as log:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [
                executable,
                "server",
                *("--backend-store-uri", db.url("postgresql+psycopg2")),
                *("--artifacts-destination", f"s3://{s3_bucket}/mlflow"),
                *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the server's workers stop with it
        )
        try:
            if not wait_for_http(f"{url}/health", 120, process):
                log.seek(0)
                output = log.read().decode(errors="replace")[-3000:].strip()
                require_service(
                    False,
                    f"mlflow server did not answer at {url}/health "
                    f"(exit {process.poll()}): {output or 'no output'}",
                )
            yield url
        finally:
            _stop_group(process)


def _keys(s3_client, bucket: str, prefix: str) -> list[str]:
    pages = s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def test_training_lineage_on_mlflow_server(mlflow_server, s3_endpoint, s3_bucket, s3_client):
    s3 = S3Resource(endpoint_url=s3_endpoint)
    io_manager = S3ParquetIOManager(s3=s3, bucket=s3_bucket, prefix="assets")
    result = materialize(
        [*ASSETS, *CHECKS],
        resources={
            "io_manager": io_manager,
            "dataset": DatasetResource(n_rows=3000),
            "metrics": MetricsResource(deployment="test"),
            "git": GitResource(),
            "mlflow_tracking": MlflowResource(tracking_uri=mlflow_server, retry_seconds=0.5),
        },
        run_config=RUN_CONFIG,
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success

    # Runs: one per family, one for the evaluation and one for the final fit of the chosen
    # family on every labeled row; all finished, tagged with the Dagster run.
    client = MlflowClient(mlflow_server, mlflow_server)
    experiment = client.get_experiment_by_name("churn")
    assert experiment.artifact_location.startswith("mlflow-artifacts:")  # proxied by the server
    runs = client.search_runs([experiment.experiment_id])
    promoted = result.output_for_node("promoted_model")
    final_fit = f"{promoted['family']}_final_fit"
    assert sorted(r.info.run_name for r in runs) == sorted(
        [*FAMILIES, "model_evaluation", final_fit]
    )
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert {r.data.tags["dagster_run_id"] for r in runs} == {result.run_id}

    # The registry: a version with alias champion, from the final fit of the best family; its
    # evidence model is the family's own run's model.
    assert promoted["promoted"], promoted["reason"]
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    assert str(champion.version) == promoted["version"] == promoted["champion_version"]
    final_run = next(r for r in runs if r.info.run_name == final_fit)
    assert champion.run_id == final_run.info.run_id
    assert final_run.data.tags["evaluated_run_id"] == next(
        r.info.run_id for r in runs if r.info.run_name == promoted["family"]
    )
    checks = {
        e.check_name: e.passed
        for e in result.get_asset_check_evaluations()
        if e.asset_key == AssetKey("promoted_model")
    }
    assert checks == {"champion_loads_and_scores": True, "champion_meets_thresholds": True}

    # Artifacts went through the server into the bucket: models, plots, the model card.
    stored = _keys(s3_client, s3_bucket, "mlflow/")
    assert stored, "no MLflow artifact reached S3"
    assert sum(key.endswith("/MLmodel") for key in stored) == len(FAMILIES) + 1  # + final fit
    assert sum(key.endswith("/model.skops") for key in stored) == len(FAMILIES) + 1
    assert any(key.endswith("plots/roc_curves.png") for key in stored)
    assert any(key.endswith("/model_card.md") for key in stored)
    # ...and the champion loads back from them, through the server.
    mlflow.set_tracking_uri(mlflow_server)
    mlflow.set_registry_uri(mlflow_server)
    model = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    frame = result.output_for_node("features")
    inputs = result.output_for_node("model_evaluation")["features"]
    assert model.predict_proba(frame[inputs].head(20)).shape == (20, 2)

    # The S3 IO manager stored every asset under assets/ and loads them back as they were.
    expected = {
        "assets/raw_dataset.parquet",
        "assets/validated_dataset.parquet",
        "assets/quarantined_rows.parquet",
        "assets/features.parquet",
        "assets/feature_spec.json",
        *(f"assets/trained_models/{family}.json" for family in FAMILIES),
        "assets/model_evaluation.json",
        "assets/promoted_model.json",
    }
    assert expected <= set(_keys(s3_client, s3_bucket, "assets/"))
    for key, node in (
        (AssetKey("promoted_model"), "promoted_model"),
        (AssetKey("model_evaluation"), "model_evaluation"),
        (AssetKey("feature_spec"), "feature_spec"),
        (AssetKey(["trained_models", "xgboost"]), "trained_models__xgboost"),
    ):
        loaded = io_manager.load_input(build_input_context(asset_key=key))
        # Stored as JSON: tuples come back as lists, anything else exactly.
        as_json = json.loads(json.dumps(result.output_for_node(node), default=str))
        assert loaded == as_json, key
    reloaded = io_manager.load_input(build_input_context(asset_key=AssetKey("features")))
    # Features hold text as Arrow strings; a plain input reads it back as object str/None (what
    # every model gets). Values, order and every other dtype come back exactly.
    text = [c for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype)]
    assert text, "features should carry Arrow text"
    expected = frame.astype({c: object for c in text})
    expected[text] = expected[text].where(frame[text].notna(), None)
    pd.testing.assert_frame_equal(reloaded, expected)


def test_unreachable_server_names_the_uri(monkeypatch):
    for name, value in FAST_FAILING_HTTP.items():
        monkeypatch.setenv(name, value)
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    tracking = MlflowResource(tracking_uri=uri, connect_retries=1, retry_seconds=0.1)
    started = time.monotonic()
    with pytest.raises(MlflowUnavailableError, match="after 2 attempt") as raised:
        tracking.experiment_id()
    assert uri in str(raised.value)
    with pytest.raises(MlflowUnavailableError) as raised:
        tracking.registry()
    assert uri in str(raised.value) and "reach the registry" in str(raised.value)
    assert time.monotonic() - started < 30
