"""Prometheus metrics of the churn pipeline, pushed to a Pushgateway.

Runs are short-lived processes (a Kubernetes pod per run or step), so Prometheus cannot scrape them;
each `record_*` call builds the metrics of one event in its own `CollectorRegistry` (no global
registry, so nothing leaks between calls, runs or tests) and pushes them to the Pushgateway, which
Prometheus scrapes with `honor_labels: true` (deploy/prometheus/prometheus.yml).

Grouping keys. The Pushgateway stores metrics in groups identified by `job` plus the grouping-key
labels, and a push only touches its own group. Every push uses `job=<job_name>` and
`deployment=<deployment>` plus:

- `record_run`: `dagster_job` and `status`, so each job keeps its last success and its last
  failure side by side (the failure alert compares their timestamps);
- `record_data_quality`: `dataset`, so datasets do not overwrite each other;
- `record_champion`: nothing more, one champion per deployment, so a new champion replaces the
  old one's series;
- `record_drift` and `record_predictions`: `batch`, so batches (partitions, possibly scored in
  parallel) do not overwrite each other.

Pushes use `pushadd_to_gateway` (HTTP POST), which replaces only the metric names being pushed
within the group, so drift and prediction metrics of the same batch share a group without erasing
each other, and a re-run of the same batch replaces (not duplicates) its series, including
per-feature series of features that are gone.

The Pushgateway does not add up values from different pushes, so counters would not count runs
across pods. Events are therefore gauges holding the last value plus a `*_timestamp_seconds` gauge;
PromQL counts events with `changes(churn_run_last_timestamp_seconds[1d])` and finds stale ones with
`time() - ..._timestamp_seconds`. Per-batch groups stay in the Pushgateway until deleted (its API:
`DELETE /metrics/job/churn_assets/deployment/<d>/batch/<b>`), which is what keeps old batches
visible in the dashboards; the alert rules only look at recent timestamps.

Without `pushgateway_url` (local runs) nothing is sent; each call still returns the `MetricsPush`
it built, whose `render()` is the Prometheus text exposition, for tests and debugging.
"""

from __future__ import annotations

import numbers
import time
import urllib.error
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dagster import ConfigurableResource
from prometheus_client import CollectorRegistry, Gauge, generate_latest, pushadd_to_gateway
from pydantic import Field

PUSHGATEWAY_URL_ENV = "CHURN_PUSHGATEWAY_URL"

# Every metric this module can push, name -> help text. Dashboards and alert rules may use only
# these names (churn_assets_tests/test_monitoring_config.py checks it).
METRICS: dict[str, str] = {
    "churn_run_last_timestamp_seconds": (
        "Unix time at which the last run of a Dagster job with this status ended."
    ),
    "churn_run_duration_seconds": "Wall-clock duration of the last run of a job with this status.",
    "churn_data_rows_processed": "Rows read by the last validation of a dataset.",
    "churn_data_rows_kept": "Rows that passed the last validation of a dataset.",
    "churn_data_rows_quarantined": "Rows quarantined by the last validation of a dataset.",
    "churn_data_quality_score": "Data quality score (0 to 100) of the last validation of a dataset",
    "churn_data_quality_last_timestamp_seconds": "Unix time of the last validation of a dataset.",
    "churn_champion_info": "The champion model; always 1, its name and version are labels.",
    "churn_champion_version": "Registry version number of the champion model.",
    "churn_champion_metric": "Holdout metric of the champion model (label metric, e.g. roc_auc).",
    "churn_champion_last_timestamp_seconds": "Unix time the champion was last recorded.",
    "churn_drift_share": "Share (0 to 1) of the tested feature columns of a batch that drifted.",
    "churn_dataset_drift": "1 when the batch drifted as a whole (share reached the threshold).",
    "churn_feature_drift_score": (
        "Deciding drift statistic of a feature in a batch (p-value or normalised distance)."
    ),
    "churn_feature_drifted": "1 when the feature drifted in the batch, else 0.",
    "churn_drift_last_timestamp_seconds": "Unix time the drift of a batch was computed.",
    "churn_prediction_rows": "Rows scored by the champion in a batch.",
    "churn_prediction_mean_score": "Mean predicted churn probability of a batch.",
    "churn_prediction_last_success_timestamp_seconds": "Unix time a batch was scored successfully.",
    "churn_realized_metric": "Metric of a batch on its arrived outcomes (label metric).",
    "churn_realized_outcome_share": "Share (0 to 1) of a scored batch with an outcome so far.",
    "churn_realized_auc_gap": "Holdout ROC AUC minus realized ROC AUC of a batch.",
    "churn_realized_decayed": "1 when the batch's realized AUC decayed beyond the margin.",
    "churn_realized_last_timestamp_seconds": "Unix time realized performance was computed.",
}

METRIC_NAMES: frozenset[str] = frozenset(METRICS)


class MetricsPushError(RuntimeError):
    """The Pushgateway could not be reached or refused the metrics."""


@dataclass(frozen=True)
class MetricsPush:
    """The metrics of one `record_*` call: registry, Pushgateway group, whether they were sent."""

    registry: CollectorRegistry
    grouping_key: dict[str, str]
    pushed: bool

    def render(self) -> bytes:
        """The Prometheus text exposition of these metrics (what the Pushgateway receives)."""
        return generate_latest(self.registry)


class MetricsResource(ConfigurableResource):
    """Pushes pipeline, data, model, drift and scoring metrics to a Prometheus Pushgateway.

    Set `pushgateway_url` from `EnvVar("CHURN_PUSHGATEWAY_URL")` in production; leave it unset
    locally and nothing is sent. A push that fails raises `MetricsPushError` naming the URL; the
    caller decides whether monitoring is worth failing the step for. See the module docstring for
    the grouping keys.
    """

    pushgateway_url: str | None = Field(
        default=None,
        description="Pushgateway base URL, e.g. http://pushgateway:9091; None sends nothing.",
    )
    job_name: str = Field(
        default="churn_assets", description="The Pushgateway `job` label of every push."
    )
    deployment: str = Field(
        default="local", description="The `deployment` label (grouping key) of every push."
    )
    grouping_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Extra labels added to every group and series (e.g. cluster, region).",
    )
    timeout_seconds: float = Field(default=10.0, description="HTTP timeout of one push.")

    def record_run(self, job: str, status: str, duration_seconds: float) -> MetricsPush:
        """A finished Dagster run of `job` with `status` (`success`, `failure`, `canceled`)."""
        status = status.strip().lower()
        if duration_seconds < 0:
            raise ValueError(f"duration_seconds must be >= 0, got {duration_seconds}")
        labels = {"dagster_job": job, "status": status}
        registry = CollectorRegistry()
        self._gauge(registry, "churn_run_last_timestamp_seconds", labels, time.time())
        self._gauge(registry, "churn_run_duration_seconds", labels, duration_seconds)
        return self._push(registry, labels)

    def record_data_quality(
        self,
        dataset: str,
        rows_in: int,
        rows_kept: int,
        rows_quarantined: int,
        quality_score: float,
    ) -> MetricsPush:
        """The outcome of validating `dataset`: row counts and the quality score (0 to 100, as
        the validation report and its `min_quality_score` check use)."""
        if not 0.0 <= quality_score <= 100.0:
            raise ValueError(f"quality_score must be in [0, 100], got {quality_score}")
        labels = {"dataset": dataset}
        registry = CollectorRegistry()
        self._gauge(registry, "churn_data_rows_processed", labels, rows_in)
        self._gauge(registry, "churn_data_rows_kept", labels, rows_kept)
        self._gauge(registry, "churn_data_rows_quarantined", labels, rows_quarantined)
        self._gauge(registry, "churn_data_quality_score", labels, quality_score)
        self._gauge(registry, "churn_data_quality_last_timestamp_seconds", labels, time.time())
        return self._push(registry, labels)

    def record_champion(
        self, model_name: str, version: int | str, metrics: Mapping[str, float | None]
    ) -> MetricsPush:
        """The current champion: registered model name, version and holdout metrics.

        `metrics` maps metric names (`roc_auc`, `f1`, ...) to numbers; None values are left out.
        Raises ValueError when the version is not an integer or a metric is not a number.
        """
        try:
            version_number = int(version)
        except (TypeError, ValueError):
            raise ValueError(
                f"champion version must be an integer registry version, got {version!r}"
            ) from None
        model = {"model_name": model_name}
        registry = CollectorRegistry()
        self._gauge(registry, "churn_champion_info", {**model, "version": str(version_number)}, 1)
        self._gauge(registry, "churn_champion_version", model, version_number)
        gauge = self._family(registry, "churn_champion_metric", [*model, "metric"])
        for metric, value in sorted(metrics.items()):
            if value is None:
                continue
            gauge.labels(**self._all_labels(model), metric=metric).set(
                _number(value, f"champion metric {metric!r}")
            )
        self._gauge(registry, "churn_champion_last_timestamp_seconds", model, time.time())
        # One group per deployment: the next champion replaces these series.
        return self._push(registry, {})

    def record_drift(
        self,
        batch: str,
        drift_share: float,
        dataset_drift: bool,
        feature_scores: Mapping[str, float | None],
        drifted_features: Iterable[str] | None = None,
    ) -> MetricsPush:
        """The drift report of `batch`: share of drifted features, the decision, per-feature scores.

        `feature_scores` holds each feature's deciding statistic (None for untested features,
        which are left out); `drifted_features`, when given, adds a 0/1 series per scored feature.
        """
        if not 0.0 <= drift_share <= 1.0:
            raise ValueError(f"drift_share must be in [0, 1], got {drift_share}")
        labels = {"batch": batch}
        registry = CollectorRegistry()
        self._gauge(registry, "churn_drift_share", labels, drift_share)
        self._gauge(registry, "churn_dataset_drift", labels, 1 if dataset_drift else 0)
        scores = {
            f: _number(v, f"drift score of {f!r}")
            for f, v in feature_scores.items()
            if v is not None
        }
        score_gauge = self._family(registry, "churn_feature_drift_score", [*labels, "feature"])
        for feature, score in sorted(scores.items()):
            score_gauge.labels(**self._all_labels(labels), feature=feature).set(score)
        if drifted_features is not None:
            drifted = set(drifted_features)
            flag_gauge = self._family(registry, "churn_feature_drifted", [*labels, "feature"])
            for feature in sorted(scores):
                flag_gauge.labels(**self._all_labels(labels), feature=feature).set(
                    1 if feature in drifted else 0
                )
        self._gauge(registry, "churn_drift_last_timestamp_seconds", labels, time.time())
        return self._push(registry, labels)

    def record_predictions(self, batch: str, rows: int, mean_score: float) -> MetricsPush:
        """A successfully scored `batch`: how many rows and their mean churn probability."""
        if rows < 0:
            raise ValueError(f"rows must be >= 0, got {rows}")
        labels = {"batch": batch}
        registry = CollectorRegistry()
        self._gauge(registry, "churn_prediction_rows", labels, rows)
        self._gauge(registry, "churn_prediction_mean_score", labels, mean_score)
        self._gauge(
            registry, "churn_prediction_last_success_timestamp_seconds", labels, time.time()
        )
        return self._push(registry, labels)

    def record_realized(
        self,
        batch: str,
        share: float,
        metrics: Mapping[str, float],
        gap: float | None,
        decayed: bool,
    ) -> MetricsPush:
        """Realized performance of `batch`: outcome share, metrics, AUC gap (None: undecided)."""
        labels, registry = {"batch": batch}, CollectorRegistry()
        gauge = self._family(registry, "churn_realized_metric", [*labels, "metric"])
        for metric, value in sorted(metrics.items()):
            gauge.labels(**self._all_labels(labels), metric=metric).set(_number(value, metric))
        one = {"outcome_share": share, "decayed": int(decayed), "auc_gap": gap}
        for name, value in {**one, "last_timestamp_seconds": time.time()}.items():
            if value is not None:  # no gap before the rule can compare
                self._gauge(registry, f"churn_realized_{name}", labels, value)
        return self._push(registry, labels)

    # -- helpers -------------------------------------------------------------------------------

    def _all_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The series labels: the event's own plus deployment and the extra grouping labels.

        Grouping-key labels are repeated on the series so the local exposition shows them too;
        the Pushgateway accepts them because the values agree.
        """
        return {**self.grouping_labels, "deployment": self.deployment, **labels}

    def _family(self, registry: CollectorRegistry, name: str, labelnames: list[str]) -> Gauge:
        names = list(self._all_labels(dict.fromkeys(labelnames, "")))
        return Gauge(name, METRICS[name], labelnames=names, registry=registry)

    def _gauge(
        self, registry: CollectorRegistry, name: str, labels: Mapping[str, str], value: float
    ) -> None:
        self._family(registry, name, list(labels)).labels(**self._all_labels(labels)).set(value)

    def _push(self, registry: CollectorRegistry, labels: Mapping[str, str]) -> MetricsPush:
        """Send `registry` to the group of `labels` (plus deployment); nothing without a URL."""
        grouping_key = {**self.grouping_labels, "deployment": self.deployment, **labels}
        if not self.pushgateway_url:
            return MetricsPush(registry=registry, grouping_key=grouping_key, pushed=False)
        try:
            pushadd_to_gateway(
                self.pushgateway_url,
                job=self.job_name,
                registry=registry,
                grouping_key=grouping_key,
                timeout=self.timeout_seconds,
            )
        except (urllib.error.URLError, OSError, ValueError) as exc:
            # HTTPError (the gateway refused the push) is a URLError; a dead port is a URLError
            # or an OSError; a malformed URL is a ValueError.
            raise MetricsPushError(
                f"could not push churn metrics to the Pushgateway at {self.pushgateway_url} "
                f"(job={self.job_name}, grouping key {grouping_key}): {exc}. Check "
                f"{PUSHGATEWAY_URL_ENV} and that the Pushgateway is running."
            ) from exc
        return MetricsPush(registry=registry, grouping_key=grouping_key, pushed=True)


def _number(value: object, what: str) -> float:
    """`value` as a float (numpy scalars included); a clear ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a number, got {value!r} ({type(value).__name__})")
    return float(value)
