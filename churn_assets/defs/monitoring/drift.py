"""Drift of a scored batch against the training reference, with a standalone HTML report."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    Output,
    asset,
)

from churn_assets.constants import OWNERS
from churn_assets.defs.decisions import segment_drift_metadata
from churn_assets.defs.metadata import png, push_metrics, table_md
from churn_assets.defs.monitoring.batches import batches
from churn_assets.defs.settings import config_from, to_dataclass
from churn_assets.ml.drift import DriftConfig, DriftReference, compute_drift
from churn_assets.ml.drift.charts import plot_top_drifted
from churn_assets.ml.drift.page import render_html
from churn_assets.ml.scoring import SCORE
from churn_assets.ml.validation import TARGET
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.reports import ReportStore


class DriftSettings(
    config_from(
        DriftConfig,
        ["alpha", "wasserstein_threshold", "jensenshannon_threshold", "psi_threshold"]
        + ["drift_share", "min_rows", "multiple_testing"],
    )
):
    """Thresholds of the drift tests (Evidently's rules by default)."""

    def drift_config(self) -> DriftConfig:
        return to_dataclass(self, DriftConfig)


@asset(
    ins={
        "customer_batch": AssetIn(),
        "batch_predictions": AssetIn(),
        "drift_reference": AssetIn(),
    },
    partitions_def=batches,
    group_name="monitoring",
    kinds={"scipy"},
    owners=OWNERS,
    description="Per-feature, prediction, missing-value and target drift of a batch vs training.",
    check_specs=[
        AssetCheckSpec("feature_drift", asset="drift_report"),
        AssetCheckSpec("dataset_drift", asset="drift_report"),
    ],
)
def drift_report(
    context: AssetExecutionContext,
    config: DriftSettings,
    reports: ReportStore,
    metrics: MetricsResource,
    dataset: DatasetResource,
    customer_batch: pd.DataFrame,
    batch_predictions: pd.DataFrame,
    drift_reference: pd.DataFrame,
):
    """Compare the batch (and the champion's scores on it) with the training reference; write
    the standalone HTML report; record dataset drift as an error-severity check result. With
    `segments` in the dataset spec, `segment_drift` summarises the batch per segment."""
    reference = DriftReference.from_frame(drift_reference)
    current = customer_batch.assign(**{SCORE: batch_predictions[SCORE].to_numpy()})
    if TARGET in current.columns and current[TARGET].notna().any():
        current[TARGET] = current[TARGET].astype("float")
    report = compute_drift(reference, current, config.drift_config())
    name = context.partition_key
    html = render_html(reference, current, report, title=f"Drift report: {name}")
    html_uri = reports.write(f"drift/{name}.html", html.encode())
    table = report.to_frame()
    features_table = table[table["kind"].isin(["numeric", "categorical"])]
    drifted = features_table.loc[features_table["drifted"], "feature"].tolist()
    top = plot_top_drifted(reference, current, report, top_n=4)
    scores = {
        c.column: float(c.distance if c.distance is not None else c.statistic or 0.0)
        for c in report.columns
        if c.kind in ("numeric", "categorical") and c.tested
    }
    pushed = push_metrics(
        context,
        "drift",
        lambda: metrics.record_drift(
            name, report.drift_share, report.dataset_drift, scores, drifted_features=drifted
        ),
    )
    yield Output(
        report.to_dict(),
        metadata={
            **pushed,
            "dataset_drift": report.dataset_drift,
            "drift_share": report.drift_share,
            "drifted_features": MetadataValue.json(drifted),
            "n_tested": report.n_tested,
            "report_html": MetadataValue.path(html_uri),
            "drift_table": table_md(table),
            "most_drifted": png(top, "most drifted features"),
            "batch": name,
            **segment_drift_metadata(
                dataset.load_spec(), reference, current, batch_predictions, TARGET
            ),
        },
    )
    yield AssetCheckResult(
        check_name="feature_drift",
        passed=not drifted,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "observed": MetadataValue.json(drifted),
            "threshold": "no drifted feature",
        },
    )
    yield AssetCheckResult(
        check_name="dataset_drift",
        passed=not report.dataset_drift,
        severity=AssetCheckSeverity.ERROR,
        metadata={"observed": report.drift_share, "threshold": config.drift_share},
    )
