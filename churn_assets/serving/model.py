"""The served model: resolved in the registry, loaded, described, and made fast to score.

Resolution and loading go through `resources/model_registry.ModelRegistry` (the same code that
promotes and rolls back): the `champion` alias (or a pinned `CHURN_MODEL_VERSION`) is resolved to
a version first and that version is loaded, so the version reported is the one served even when
the alias moves meanwhile. The threshold is the version's `threshold` tag.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from churn_assets.constants import CHAMPION, REGISTERED_MODEL_NAME
from churn_assets.ml.table_input import TableInput
from churn_assets.serving.compiled import NotCompilable, compile_pipeline
from churn_assets.serving.config import ServerConfig
from churn_assets.serving.schema import InputSchema, Rows

log = logging.getLogger(__name__)
DEFAULT_THRESHOLD = 0.5


@dataclass
class LoadedModel:
    """A fitted Pipeline, the registry facts `/model` reports, and how it is scored."""

    pipeline: Any
    version: str
    threshold: float = DEFAULT_THRESHOLD
    name: str = REGISTERED_MODEL_NAME
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    schema: InputSchema | None = None
    scorer: Any = None  # CompiledScorer, or None: the Pipeline scores
    scoring_path: str = "pipeline"
    baseline: dict[str, object] | None = None

    def predict(self, rows: Rows) -> np.ndarray:
        """Churn probabilities of `rows` (compiled path when there is one)."""
        if self.scorer is not None:
            return self.scorer.predict(rows)
        return self.pipeline.predict_proba(rows.frame(self.schema))[:, 1]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "metrics": self.metrics,
            "threshold": self.threshold,
            "scoring_path": self.scoring_path,
            "estimator_call": self.scorer.estimator_call if self.scorer else "predict_proba",
            "inputs": {
                "numeric": list(self.schema.numeric),
                "categorical": list(self.schema.categorical),
            },
        }


def input_schema(pipeline) -> InputSchema:
    """The raw columns and their training ranges and categories, read from the model."""
    first = pipeline.steps[0][1] if hasattr(pipeline, "steps") else None
    if isinstance(first, TableInput):
        ranges = {
            c: (float(lo), float(hi)) for c, (lo, hi) in getattr(first, "ranges_", {}).items()
        }
        categories = {c: frozenset(v) for c, v in getattr(first, "categories_", {}).items()}
        return InputSchema(tuple(first.numeric), tuple(first.categorical), ranges, categories)
    # A model logged before TableInput: its columns, numeric unless the encoder takes them.
    names = [str(c) for c in getattr(pipeline, "feature_names_in_", [])]
    if not names:
        raise ValueError("the model does not say which columns it takes (no feature_names_in_)")
    categorical = set(_encoded_columns(pipeline))
    return InputSchema(
        tuple(c for c in names if c not in categorical), tuple(c for c in names if c in categorical)
    )


def _encoded_columns(pipeline) -> list[str]:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    found = []
    for _, step in pipeline.steps:
        inner = step.steps if isinstance(step, Pipeline) else [("", step)]
        for _, sub in inner:
            if isinstance(sub, ColumnTransformer):
                for _, t, cols in sub.transformers_:
                    last = t.steps[-1][1] if isinstance(t, Pipeline) else t
                    if isinstance(last, OneHotEncoder):
                        found.extend(str(c) for c in cols)
    return found


def set_threads(pipeline, threads: int) -> None:
    """Cap the estimator's own threads (0 leaves the libraries' defaults).

    With several workers on few cores, XGBoost's and HistGradientBoosting's OpenMP threads
    busy-wait against each other and make every predict several times slower.
    """
    if threads <= 0:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)  # OpenMP and BLAS, for the whole worker process
    estimator = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    if "n_jobs" in estimator.get_params():
        estimator.set_params(n_jobs=threads)


def prepare(pipeline, version: str, config: ServerConfig, **facts: Any) -> LoadedModel:
    """A LoadedModel for a fitted Pipeline: schema, threads and (when possible) compiled path."""
    if not hasattr(pipeline, "predict_proba"):
        raise TypeError(f"version {version} has no predict_proba")
    set_threads(pipeline, config.threads)
    schema = input_schema(pipeline)
    loaded = LoadedModel(pipeline, version, schema=schema, **facts)
    first = pipeline.steps[0][1] if hasattr(pipeline, "steps") else None
    loaded.baseline = getattr(first, "baseline_", None)
    if config.compiled:
        try:
            loaded.scorer = compile_pipeline(pipeline, schema)
            loaded.scoring_path = "compiled"
        except NotCompilable as exc:
            loaded.scoring_path = f"pipeline (not compiled: {exc})"
            log.warning("version %s scores through the Pipeline: %s", version, exc)
    return loaded


def threshold_of(tags: dict[str, str], name: str, version: str) -> float:
    """The version's `threshold` tag, or 0.5 with a warning when it is missing or not in [0, 1]."""
    raw = tags.get("threshold")
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        log.warning(
            "version %s of '%s' has no usable `threshold` tag (%r); using 0.5", version, name, raw
        )
        return DEFAULT_THRESHOLD
    return value


class RegistryLoader:
    """Resolves and loads the served version through `ModelRegistry`."""

    def __init__(self, config: ServerConfig):
        if not config.tracking_uri:
            raise ValueError("MLFLOW_TRACKING_URI is not set: the server cannot find the registry")
        self.config = config
        # MLflow retries each HTTP call for minutes by default; a load should fail in seconds.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")

    def _registry(self):
        import mlflow
        from mlflow import MlflowClient

        from churn_assets.resources.model_registry import ModelRegistry

        registry_uri = self.config.registry_uri or self.config.tracking_uri
        mlflow.set_tracking_uri(self.config.tracking_uri)
        mlflow.set_registry_uri(registry_uri)
        client = MlflowClient(self.config.tracking_uri, registry_uri)
        return ModelRegistry(client, self.config.model_name)

    def resolve(self) -> str:
        """The version to serve now: the pinned one, else the alias's; LookupError when none."""
        if self.config.pinned_version:
            return self.config.pinned_version
        version = self._registry().alias_version(CHAMPION)
        if version is None:
            raise LookupError(f"'{self.config.model_name}' has no {CHAMPION} alias yet")
        return version

    def __call__(self) -> LoadedModel:
        registry = self._registry()
        version = self.resolve()
        facts = registry.describe(version)
        pipeline = registry.load(version)
        return prepare(
            pipeline,
            version,
            self.config,
            threshold=threshold_of(facts["tags"], self.config.model_name, version),
            name=self.config.model_name,
            run_id=facts["run_id"],
            metrics=facts["metrics"],
        )
