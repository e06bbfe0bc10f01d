"""`churn-assets serve --workers 2` as a real process tree (uvicorn's parent and two worker
processes) on a local MLflow store: `/metrics` counts the requests of both workers, and one
`POST /reload` (which reaches one worker) makes every worker serve the new version."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from churn_assets.resources.mlflow_models import log_pipeline
from churn_assets.resources.model_registry import ModelRegistry
from churn_assets_tests.integration.services import free_port
from churn_assets_tests.serving.models import fitted, validated
from churn_assets_tests.serving.running import call

pytestmark = [pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
NAME = "churn-classifier"
TOKEN = "operator-test-token"
VERSION_SERIES = re.compile(r'^churn_server_model_version\{pid="(\d+)"\} ([0-9.]+)$', re.M)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """v1 (champion, threshold 0.3) and v2 (threshold 0.6) in a sqlite store."""
    path = tmp_path_factory.mktemp("workers_registry")
    uri = f"sqlite:///{path}/mlflow.db"
    client = MlflowClient(uri, uri)
    experiment = client.create_experiment("serving", artifact_location=str(path / "art"))
    valid, inputs = validated(3_000, 7)
    registry = ModelRegistry(client, NAME)
    mlflow.set_tracking_uri(uri)
    try:
        for threshold in (0.3, 0.6):
            with mlflow.start_run(experiment_id=experiment) as run:
                info = log_pipeline(fitted("logistic_regression"), valid[inputs])
            registry.register(info.model_uri, run.info.run_id, {"threshold": threshold})
    finally:
        mlflow.set_tracking_uri(None)
    client.set_registered_model_alias(NAME, "champion", "1")
    return uri, client


def _versions(url: str) -> dict[str, float]:
    """The served version per worker pid, from /metrics."""
    status, body, _ = call(f"{url}/metrics")
    assert status == 200, body
    return {pid: float(v) for pid, v in VERSION_SERIES.findall(body["text"])}


def _scored_rows(text: str) -> float:
    found = re.findall(r'^churn_server_predictions_total\{outcome="\w+"\} ([0-9.e+]+)$', text, re.M)
    return sum(float(v) for v in found)


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    """The server's URL and its runtime folder (tempfile's, under a TMPDIR of the test's)."""
    uri, _ = store
    tmp = tmp_path_factory.mktemp("serve_tmp")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "CHURN_MODEL_VERSION"},
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,  # never one a test before left in os.environ
        "CHURN_OPERATOR_TOKEN": TOKEN,
        "CHURN_MODEL_POLL_SECONDS": "0",  # only /reload moves the served version here
        "TMPDIR": str(tmp),
        "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    argv = [sys.executable, "-m", "churn_assets.cli", "serve", "--port", str(port)]
    log = tmp / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*argv, "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # loading took 100 s on a busy machine
        versions: dict = {}
        while time.monotonic() < deadline and process.poll() is None:
            try:
                versions = _versions(url)
            except OSError:  # not listening yet
                versions = {}
            if len(versions) == 2 and set(versions.values()) == {1.0}:  # 0 until loaded
                break
            time.sleep(1)
        assert set(versions.values()) == {1.0}, (
            f"two workers never both loaded v1: {log.read_text()[-3000:]}"
        )
        (runtime,) = tmp.glob("churn-serve-*")
        yield url, runtime
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _per_worker_rows(metrics_dir: Path, tmp_path: Path) -> dict[str, float]:
    """Rows scored by each worker: prometheus_client's collector over one worker's files."""
    rows = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = path.stem.removeprefix("counter_")
        alone = tmp_path / pid
        alone.mkdir()
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        rows[pid] = sum(
            s.value
            for metric in registry.collect()
            if metric.name == "churn_server_predictions"
            for s in metric.samples
            if s.name.endswith("_total")
        )
    return rows


def test_metrics_count_the_requests_of_every_worker(server, tmp_path):
    url, runtime = server
    valid, inputs = validated(3_000, 7)
    records = [
        {k: (None if v != v else v) for k, v in row.items()}
        for row in valid[inputs].head(240).to_dict(orient="records")
    ]
    with ThreadPoolExecutor(16) as pool:  # concurrent, so both workers accept connections
        statuses = list(pool.map(lambda r: call(f"{url}/predict", "POST", r)[0], records))
    assert statuses == [200] * len(records)
    per_worker = _per_worker_rows(runtime / "metrics", tmp_path)
    assert len(per_worker) == 2 and all(n > 0 for n in per_worker.values()), per_worker
    assert sum(per_worker.values()) == len(records)
    # Every scrape, whichever worker answers it, reports both workers' rows.
    for _ in range(12):
        status, body, _ = call(f"{url}/metrics")
        assert status == 200 and _scored_rows(body["text"]) == len(records)


def test_one_reload_moves_every_worker_to_the_new_version(server, store):
    url, runtime = server
    _, client = store
    assert set(_versions(url).values()) == {1.0}
    client.set_registered_model_alias(NAME, "champion", "2")
    status, body, _ = call(
        f"{url}/reload", "POST", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )
    assert status == 200 and body["model_version"] == "2", body
    deadline, versions = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        versions = _versions(url)
        if len(versions) == 2 and set(versions.values()) == {2.0}:
            break
        time.sleep(0.5)
    assert len(versions) == 2 and set(versions.values()) == {2.0}, versions
    # Whichever worker answers: the new version and its threshold.
    for _ in range(20):
        status, info, _ = call(f"{url}/model")
        assert (status, info["version"], info["threshold"]) == (200, "2", 0.6)
