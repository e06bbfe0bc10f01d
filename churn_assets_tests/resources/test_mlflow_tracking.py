"""MlflowResource: fails fast on an unreachable server, retries only connection failures, reports a
refused permission as such, leaves MLflow's env vars alone, and logs through the resource."""

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mlflow
import pandas as pd
import pytest
import requests
from dagster import DagsterInstance, asset, build_init_resource_context, materialize
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    RESOURCE_DOES_NOT_EXIST,
    UNAUTHENTICATED,
)

from churn_assets.resources.mlflow_retry import is_connection_failure, is_permission_failure
from churn_assets.resources.mlflow_tracking import (
    MlflowPermissionError,
    MlflowResource,
    MlflowUnavailableError,
)

CLOSED = "http://127.0.0.1:1"  # nothing listens on port 1


@pytest.fixture(autouse=True)
def _restore_mlflow_uris():
    tracking, registry_uri = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    yield
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry_uri)


def _wrapped(inner: BaseException) -> MlflowException:
    """An MlflowException raised while handling `inner`, the way MLflow's REST client does."""
    try:
        raise inner
    except BaseException:
        try:
            raise MlflowException(f"API request failed with exception {inner}")
        except MlflowException as exc:
            return exc


class _Flaky:
    def __init__(self, failures: list[BaseException], result="ok"):
        self.failures, self.result, self.calls = list(failures), result, 0

    def __call__(self):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


def _fast(uri: str = CLOSED, retry_seconds: float = 0.01) -> MlflowResource:
    return MlflowResource(tracking_uri=uri, connect_retries=2, retry_seconds=retry_seconds)


def test_connection_failures_are_retried_then_succeed():
    refused = _wrapped(requests.exceptions.ConnectionError("Connection refused"))
    flaky = _Flaky([refused, refused])
    assert _fast().call("start a run", flaky) == "ok"
    assert flaky.calls == 3


def test_connection_failures_that_persist_name_the_uri_and_the_step():
    flaky = _Flaky([_wrapped(requests.exceptions.ConnectionError("refused"))] * 5)
    with pytest.raises(MlflowUnavailableError) as raised:
        _fast().call("start a run", flaky)
    assert flaky.calls == 3  # 1 + connect_retries
    assert CLOSED in str(raised.value) and "start a run" in str(raised.value)


@pytest.mark.parametrize(
    "error",
    [
        MlflowException("Invalid metric name", error_code=INVALID_PARAMETER_VALUE),
        MlflowException("no such run", error_code=RESOURCE_DOES_NOT_EXIST),
        ValueError("a bug in the caller"),
    ],
)
def test_other_failures_are_raised_unchanged_at_once(error):
    flaky = _Flaky([error])
    with pytest.raises(type(error)) as raised:
        _fast().call("log metrics", flaky)
    assert raised.value is error and flaky.calls == 1


@pytest.mark.parametrize("code", [PERMISSION_DENIED, UNAUTHENTICATED])
def test_a_refused_permission_is_reported_as_such_and_not_retried(code):
    flaky = _Flaky([MlflowException("403 Forbidden", error_code=code)])
    with pytest.raises(MlflowPermissionError, match="refused to log metrics") as raised:
        _fast().call("log metrics", flaky)
    assert flaky.calls == 1
    assert not isinstance(raised.value, MlflowUnavailableError)


def test_classification_walks_the_exception_chain():
    assert is_connection_failure(_wrapped(ConnectionRefusedError(111, "refused")))
    assert is_connection_failure(_wrapped(requests.exceptions.ReadTimeout("slow")))
    assert not is_connection_failure(MlflowException("bad param"))
    assert is_permission_failure(_wrapped(PermissionError(13, "denied", "/mlruns")))
    assert is_permission_failure(MlflowException("attempt to write a readonly database"))
    assert not is_permission_failure(_wrapped(requests.exceptions.ConnectionError("refused")))


def _mlflow_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}


def test_an_unreachable_server_fails_at_setup_in_seconds_without_touching_the_env():
    before = _mlflow_env()
    resource = _fast(retry_seconds=0.1)
    context = build_init_resource_context()
    started = time.monotonic()
    with pytest.raises(MlflowUnavailableError) as raised:
        resource.setup_for_execution(context)
    assert time.monotonic() - started < 10
    assert CLOSED in str(raised.value) and "/health" in str(raised.value)
    # MLflow's HTTP retry/timeout settings are the deployment's, never rewritten by us...
    assert not {k for k in _mlflow_env() if k.startswith("MLFLOW_HTTP_")} - set(before)
    # ...and the process-wide URIs the step borrowed are given back.
    resource.teardown_after_execution(context)
    assert _mlflow_env() == before


def test_a_run_against_an_unreachable_server_fails_before_any_step_works():
    """The resource check runs when the run's resources are set up: no asset body executes."""
    executed = []

    @asset
    def trained(mlflow_tracking: MlflowResource) -> dict:
        executed.append("trained")  # stands for minutes of training
        return {}

    started = time.monotonic()
    result = materialize(
        [trained],
        resources={"mlflow_tracking": _fast(retry_seconds=0.1)},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success and executed == []
    assert time.monotonic() - started < 30
    failures = [e for e in result.all_events if e.is_failure]
    assert any(CLOSED in str(e.event_specific_data) for e in failures)


class _Refusing(BaseHTTPRequestHandler):
    """A tracking server that is up but answers every API call 403, counting them."""

    calls = 0

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path == "/health":
            self._reply(200, b"OK")
            return
        type(self).calls += 1
        self._reply(403, json.dumps({"error_code": "PERMISSION_DENIED", "message": "no"}).encode())

    do_POST = do_GET  # noqa: N815

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def _refusing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_refuses_us_is_a_permission_error_not_unavailable():
    _Refusing.calls = 0
    with _refusing_server() as url:
        with pytest.raises(MlflowPermissionError) as raised:
            _fast(url).setup_for_execution(build_init_resource_context())
    assert url in str(raised.value) and "PERMISSION_DENIED" in str(raised.value)
    assert _Refusing.calls == 1  # not retried


def test_runs_log_through_the_resource_and_end_finished_or_failed(tmp_path):
    tracking = MlflowResource(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifact_location=str(tmp_path / "artifacts"),
    )
    tracking.setup_for_execution(build_init_resource_context())
    with tracking.start_run("family", {"dagster_run_id": "r1"}) as run:
        run.log_params({"family": "xgboost", "n_iter": 2})
        run.log_metrics({"roc_auc": 0.81})
        run.set_tag("best_family", "xgboost")
        run.log_table(pd.DataFrame({"a": [1, 2]}), "comparison.json")
        run.log_text("why", "threshold.txt")
        run.log_png(b"\x89PNG\r\n\x1a\n", "plots/roc.png")
    with pytest.raises(RuntimeError, match="boom"):
        with tracking.start_run("broken", {}):
            raise RuntimeError("boom")

    client = tracking.client()
    finished = client.get_run(run.run_id)
    assert finished.info.status == "FINISHED"
    assert finished.data.params == {"family": "xgboost", "n_iter": "2"}
    assert finished.data.metrics == {"roc_auc": 0.81}
    assert finished.data.tags["best_family"] == "xgboost"
    artifacts = {a.path for a in client.list_artifacts(run.run_id)}
    assert {"comparison.json", "threshold.txt", "plots"} <= artifacts
    assert [a.path for a in client.list_artifacts(run.run_id, "plots")] == ["plots/roc.png"]
    (broken,) = client.search_runs([tracking.experiment_id()], "attributes.run_name = 'broken'")
    assert broken.info.status == "FAILED"
    assert mlflow.active_run() is None


def test_an_unreachable_s3_artifact_root_fails_the_check_naming_bucket_and_endpoint(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", CLOSED)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    tracking = MlflowResource(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifact_location="s3://churn-artifacts/mlflow",
    )
    with pytest.raises(MlflowUnavailableError) as raised:
        tracking.check()
    assert "s3://churn-artifacts" in str(raised.value) and CLOSED in str(raised.value)
