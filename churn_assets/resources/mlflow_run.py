"""One MLflow run as the assets see it: log params, metrics, tables, text and pictures to it.

Every call names the run explicitly (an MlflowClient call with the run id, not MLflow's global
active run) and goes through the resource's retries, so a call that cannot connect is retried
and then reported with the tracking URI.
"""

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class TrackedRun:
    """An MLflow run started by `MlflowResource.start_run`; `info` and `run_id` as MLflow's."""

    def __init__(self, run, client, call: Callable[..., Any]):
        self._run = run
        self._client = client
        self._call = call

    @property
    def info(self):
        return self._run.info

    @property
    def run_id(self) -> str:
        return self._run.info.run_id

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        batch = [Param(str(k), str(v)) for k, v in params.items()]
        self._call("log params", self._client.log_batch, self.run_id, params=batch)

    def log_metrics(self, metrics: dict[str, float]) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(str(k), float(v), now, 0) for k, v in metrics.items()]
        self._call("log metrics", self._client.log_batch, self.run_id, metrics=batch)

    def set_tag(self, key: str, value: Any) -> None:
        self._call("set a tag", self._client.set_tag, self.run_id, key, str(value))

    def log_table(self, data, artifact_file: str) -> None:
        """A DataFrame as a JSON table artifact (MLflow's `log_table` format)."""
        self._call(f"log {artifact_file}", self._client.log_table, self.run_id, data, artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        self._call(f"log {artifact_file}", self._client.log_text, self.run_id, text, artifact_file)

    def log_png(self, image: bytes, artifact_file: str) -> None:
        """PNG bytes as an artifact, e.g. `plots/roc.png`."""
        folder, _, name = artifact_file.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(image)
            self._call(
                f"log {artifact_file}",
                self._client.log_artifact,
                self.run_id,
                str(path),
                folder or None,
            )

    def log_model(self, log_fn: Callable[..., Any], *args, **kwargs) -> Any:
        """Call a model-logging function (e.g. `mlflow.sklearn.log_model`) with retries; it logs
        to this run, MLflow's active run inside `start_run`. Returns what it returns."""
        return self._call("log the model", log_fn, *args, **kwargs)


def log_png(image: bytes, artifact_file: str) -> None:
    """Log PNG bytes as an artifact of MLflow's active run (kept for callers of the global API;
    prefer `TrackedRun.log_png`)."""
    import mlflow

    folder, _, name = artifact_file.rpartition("/")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(image)
        mlflow.log_artifact(str(path), artifact_path=folder or None)
