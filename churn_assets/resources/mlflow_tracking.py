"""MLflow behind one Pythonic resource: a reachability check before any work, tracking runs that
always end, logging through the resource (with retries), and the model registry.

Why not dagster-mlflow's `mlflow_tracking` resource: it shares one MLflow run across a Dagster run
through MLflow's global active run (and unregisters MLflow's atexit hook), and leaves that run
RUNNING when no `end_mlflow_on_run_finished` hook fires, which is what in-process `materialize`
does. We want one MLflow run per model family per materialization, each ended FINISHED or FAILED
by a context manager in the step that started it, so nothing depends on a hook. We keep
dagster-mlflow's `dagster_run_id` tag, so runs are found the same way.

Failures: only connection failures are retried (tenacity, `connect_retries` times, waits doubling
from `retry_seconds`); a refused permission raises MlflowPermissionError at once; anything else is
raised unchanged. MLflow's own HTTP retries (MLFLOW_HTTP_REQUEST_MAX_RETRIES, default 7 with
backoff: minutes per call against a dead server) are left to the deployment's environment; the
check at resource setup does not go through them, so an unreachable server fails a step in seconds,
before any training.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from churn_assets.cli_process import in_step_process, stop_joblib_workers
from churn_assets.resources.mlflow_retry import (
    MlflowPermissionError,
    MlflowUnavailableError,
    call_with_retries,
    first_line,
)
from churn_assets.resources.mlflow_run import TrackedRun, log_png
from churn_assets.resources.mlflow_store import store_creation_lock

__all__ = [
    "MlflowPermissionError",
    "MlflowResource",
    "MlflowUnavailableError",
    "TrackedRun",
    "log_png",
]
T = TypeVar("T")


class MlflowResource(ConfigurableResource):
    """An MLflow tracking store and model registry (sqlite locally, a server in production)."""

    tracking_uri: str = Field(description="MLflow tracking URI (sqlite:///..., http://...).")
    registry_uri: str | None = Field(None, description="Registry URI; the tracking URI if unset.")
    experiment_name: str = Field("churn", description="Experiment the runs are logged to.")
    registered_model_name: str = Field(
        "churn-classifier", description="Registered model the promoted versions belong to."
    )
    artifact_location: str | None = Field(
        None, description="Artifact root for a new experiment (a folder or s3://bucket/prefix)."
    )
    connect_retries: int = Field(3, ge=0, description="Retries of a call that cannot connect.")
    retry_seconds: float = Field(2.0, ge=0.0, description="First wait between retries (doubles).")
    check_timeout_seconds: float = Field(
        5.0, gt=0, description="Timeout of one request of the reachability check at setup."
    )
    check_on_setup: bool = Field(
        True, description="Check MLflow is reachable when a step that uses it starts."
    )
    _experiment_id: str | None = PrivateAttr(None)
    _previous_uris: tuple[str, str] | None = PrivateAttr(None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Point MLflow's process-wide URIs here for the step (model logging and `models:/`
        loads read them) and check the store answers (see `check`).

        Raises MlflowUnavailableError / MlflowPermissionError naming the URI, before the step
        (a training family, say) does any work."""
        import mlflow

        self._previous_uris = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri or self.tracking_uri)
        if self.check_on_setup:
            self.check()

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        """Give MLflow back the URIs it had (MLflow 3 also mirrors them into the environment).

        In a process that ends with its step (`in_step_process`), also stop joblib's idle
        workers: left alone they held the process's exit for loky's idle timeout, 5 minutes after
        each step that trained or scored in parallel. Every such step uses this resource, in a
        job or in an asset selection launched from the UI alike."""
        import mlflow

        if self._previous_uris is not None:
            mlflow.set_tracking_uri(self._previous_uris[0])
            mlflow.set_registry_uri(self._previous_uris[1])
        if in_step_process():
            stop_joblib_workers()

    def call(self, what: str, fn: Callable[..., T], *args, **kwargs) -> T:
        """`fn(*args, **kwargs)` with connection failures retried; `what` names it in errors."""
        return call_with_retries(
            fn,
            *args,
            what=what,
            uri=self.tracking_uri,
            retries=self.connect_retries,
            first_wait=self.retry_seconds,
            **kwargs,
        )

    _retrying = call  # the name this method had before

    def check(self) -> None:
        """Raise unless the tracking store answers and lets us in.

        A server is asked for `/health` directly (bounded by `check_timeout_seconds`, retried
        like any call) before one API request checks the credentials; a local store is opened.
        An s3:// artifact root must be reachable too."""
        if self.tracking_uri.startswith(("http://", "https://")):
            self.call("answer /health", self._health)
        with self._store_creation_lock():
            self.call("list experiments", self.client().search_experiments, max_results=1)
        if (self.artifact_location or "").startswith("s3://"):
            self._check_bucket(self.artifact_location)

    def _health(self) -> None:
        import requests

        url = f"{self.tracking_uri.rstrip('/')}/health"
        response = requests.get(url, timeout=self.check_timeout_seconds)
        if response.status_code >= 500:
            response.raise_for_status()  # a 5xx while it (re)starts: retried as unavailable

    def _check_bucket(self, location: str) -> None:
        import os

        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        bucket = location.removeprefix("s3://").split("/", 1)[0]
        endpoint = os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None
        try:
            boto3.client("s3", endpoint_url=endpoint).head_bucket(Bucket=bucket)
        except (BotoCoreError, ClientError) as exc:
            raise MlflowUnavailableError(
                f"MLflow's artifact bucket s3://{bucket} (endpoint {endpoint or 'AWS'}) is not "
                f"reachable: {first_line(exc)}; check CHURN_MLFLOW_ARTIFACTS, "
                "MLFLOW_S3_ENDPOINT_URL and the S3 credentials"
            ) from exc

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(self.tracking_uri, self.registry_uri or self.tracking_uri)

    def run_link(self, run_id: str) -> str:
        """Where a person opens the run: the server's UI page, or the run id for a local store."""
        if self.tracking_uri.startswith(("http://", "https://")):
            base = self.tracking_uri.rstrip("/")
            return f"{base}/#/experiments/{self.experiment_id()}/runs/{run_id}"
        return f"runs:/{run_id} in {self.tracking_uri} (make mlflow-ui)"

    def registry(self):
        """The registered model's registry operations (see `model_registry.ModelRegistry`)."""
        from churn_assets.resources.model_registry import ModelRegistry

        self.call("reach the registry", self.client().search_registered_models, max_results=1)
        return ModelRegistry(self.client(), self.registered_model_name)

    def load_model(self, model_uri: str):
        """The scikit-learn model at `model_uri` (runs:/, models:/...), loaded with retries."""
        import mlflow

        return self.call(f"load {model_uri}", mlflow.sklearn.load_model, model_uri)

    def experiment_id(self) -> str:
        """The experiment's id, creating it (with the artifact location) on first use."""
        if self._experiment_id is None:
            with self._store_creation_lock():
                self._experiment_id = self._find_or_create_experiment()
        return self._experiment_id

    def _find_or_create_experiment(self) -> str:
        client = self.client()
        found = self.call(
            "look up the experiment", client.get_experiment_by_name, self.experiment_name
        )
        if found is not None:
            return found.experiment_id
        try:
            return self.call(
                "create the experiment",
                client.create_experiment,
                self.experiment_name,
                artifact_location=self.artifact_location,
            )
        except Exception as exc:  # another step (a server, no local lock) created it first
            if getattr(exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
                raise
            return client.get_experiment_by_name(self.experiment_name).experiment_id

    def _store_creation_lock(self):
        """`mlflow_store.store_creation_lock` for this resource's tracking URI."""
        return store_creation_lock(self.tracking_uri)

    @contextmanager
    def start_run(self, run_name: str, tags: dict[str, str]) -> Iterator[TrackedRun]:
        """An MLflow run that ends FINISHED when the block succeeds and FAILED when it raises.

        Yields a TrackedRun: log through it (`run.log_metrics(...)`, `run.log_png(...)`); it is
        also MLflow's active run, so `mlflow.sklearn.log_model` inside the block logs to it.
        Raises MlflowUnavailableError naming the tracking URI when the server cannot be reached.
        """
        import mlflow

        experiment_id = self.experiment_id()
        if mlflow.active_run() is not None:  # a run left over in this process by a crash
            mlflow.end_run(status="FAILED")
        run = self.call(
            "start a run",
            mlflow.start_run,
            experiment_id=experiment_id,
            run_name=run_name,
            tags=tags,
        )
        try:
            yield TrackedRun(run, self.client(), self.call)
        except BaseException:
            _end_run("KILLED" if _interrupted() else "FAILED")
            raise
        else:
            self.call("end the run", mlflow.end_run, status="FINISHED")


def _end_run(status: str) -> None:
    """End the active run after a failure; a server that is gone must not hide the first error."""
    import logging

    import mlflow

    try:
        mlflow.end_run(status=status)
    except Exception as exc:  # the block's own exception is the one to report
        logging.getLogger(__name__).warning("could not mark the MLflow run %s: %s", status, exc)
        mlflow.tracking.fluent._active_run_stack.get().clear()


def _interrupted() -> bool:
    import sys

    return isinstance(sys.exc_info()[1], KeyboardInterrupt)
