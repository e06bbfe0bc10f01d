"""MLflow behind one Pythonic resource: tracking runs that always end, and the model registry.

Why not dagster-mlflow's `mlflow_tracking` resource: it shares one MLflow run across a Dagster run
through MLflow's global active run (and unregisters MLflow's atexit hook), and leaves that run
RUNNING when no `end_mlflow_on_run_finished` hook fires, which is what in-process `materialize`
does. We want one MLflow run per model family per materialization, each ended FINISHED or FAILED
by a context manager in the step that started it, so nothing depends on a hook. We keep
dagster-mlflow's `dagster_run_id` tag, so runs are found the same way.
"""

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

log = logging.getLogger(__name__)


class MlflowUnavailableError(RuntimeError):
    """The tracking server or registry cannot be reached."""


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
    connect_retries: int = Field(3, ge=0, description="Retries before the server is unreachable.")
    retry_seconds: float = Field(2.0, ge=0.0, description="First wait between retries (doubles).")
    http_max_retries: int = Field(0, ge=0, description="MLflow client's own HTTP retries.")
    http_timeout_seconds: int = Field(60, ge=1, description="Timeout of one MLflow request.")
    _experiment_id: str | None = PrivateAttr(None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        import mlflow

        # MLflow's HTTP client retries every request itself (7 times, backoff from 2 s: minutes
        # per call against a closed port), which would make connect_retries meaningless. This
        # resource retries itself, so an unreachable server is reported in seconds, unless the
        # environment already sets these.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(self.http_max_retries))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(self.http_timeout_seconds))
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri or self.tracking_uri)

    def _retrying(self, what: str, fn, *args, **kwargs):
        from mlflow.exceptions import MlflowException

        wait = self.retry_seconds
        for attempt in range(self.connect_retries + 1):
            try:
                return fn(*args, **kwargs)
            except (MlflowException, OSError) as exc:
                transient = "RESOURCE_DOES_NOT_EXIST" not in str(getattr(exc, "error_code", ""))
                if attempt == self.connect_retries or not transient:
                    raise MlflowUnavailableError(
                        f"MLflow at {self.tracking_uri} failed to {what} after {attempt + 1} "
                        f"attempt(s): {str(exc).splitlines()[0]}"
                    ) from exc
                log.warning("MLflow %s failed (%s); retrying in %.1fs", what, exc, wait)
                time.sleep(wait)
                wait *= 2

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

        self._retrying("reach the registry", self.client().search_registered_models, max_results=1)
        return ModelRegistry(self.client(), self.registered_model_name)

    def experiment_id(self) -> str:
        """The experiment's id, creating it (with the artifact location) on first use."""
        if self._experiment_id is None:
            client = self.client()
            found = self._retrying(
                "look up the experiment", client.get_experiment_by_name, self.experiment_name
            )
            if found is None:
                self._experiment_id = self._retrying(
                    "create the experiment",
                    client.create_experiment,
                    self.experiment_name,
                    artifact_location=self.artifact_location,
                )
            else:
                self._experiment_id = found.experiment_id
        return self._experiment_id

    @contextmanager
    def start_run(self, run_name: str, tags: dict[str, str]) -> Iterator[Any]:
        """An MLflow run that ends FINISHED when the block succeeds and FAILED when it raises.

        Raises MlflowUnavailableError naming the tracking URI when the server cannot be reached.
        """
        import mlflow

        experiment_id = self.experiment_id()
        if mlflow.active_run() is not None:  # a run left over in this process by a crash
            mlflow.end_run(status="FAILED")
        run = self._retrying(
            "start a run",
            mlflow.start_run,
            experiment_id=experiment_id,
            run_name=run_name,
            tags=tags,
        )
        try:
            yield run
        except BaseException:
            mlflow.end_run(status="KILLED" if _interrupted() else "FAILED")
            raise
        else:
            mlflow.end_run(status="FINISHED")


def _interrupted() -> bool:
    import sys

    return isinstance(sys.exc_info()[1], KeyboardInterrupt)


def log_png(image: bytes, artifact_file: str) -> None:
    """Log PNG bytes as an artifact of the active run (e.g. `plots/roc.png`)."""
    import tempfile
    from pathlib import Path

    import mlflow

    folder, _, name = artifact_file.rpartition("/")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(image)
        mlflow.log_artifact(str(path), artifact_path=folder or None)
