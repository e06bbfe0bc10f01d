"""Group monitoring: incoming batches validated, scored by the champion and compared with training.

Batches are dynamic partitions keyed by file name: files arrive when they arrive (several a day,
or none), each file is one unit of work to retry or backfill, and a name says more in the UI than
a date. The landing sensor adds a partition per new file and requests one `monitoring_job` run
for it; the blocking checks on `customer_batch` stop scoring and drift within that run, so a batch
that failed validation never reaches the drift report and never triggers retraining.
"""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    Config,
    DynamicPartitionsDefinition,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)
from pydantic import Field

from churn_assets.defs.metadata import png, preview, push_metrics, table_md
from churn_assets.defs.settings import config_from, to_dataclass
from churn_assets.defs.validation import CHECKS, ValidationConfig, quality_checks
from churn_assets.ml.drift import DriftConfig, DriftReference, build_reference, compute_drift
from churn_assets.ml.drift.charts import plot_top_drifted
from churn_assets.ml.drift.page import render_html
from churn_assets.ml.explain import baseline_values, top_reasons
from churn_assets.ml.features import FeatureSpec, split_xy
from churn_assets.ml.jsonable import plain
from churn_assets.ml.sources import file_format, read_bytes
from churn_assets.ml.validation import ROW_COLUMN, TARGET, validate
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.landing import LandingResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.model_registry import CHAMPION, RegistryError
from churn_assets.resources.reports import ReportStore

batches = DynamicPartitionsDefinition(name="customer_batches")
SCORE = "churn_probability"
BATCH_CHECKS = {k: v for k, v in CHECKS.items() if k != "target_balance"}


def load_champion(mlflow_tracking: MlflowResource):
    """(version, threshold, model) of the current champion; raises RegistryError without one."""
    registry = mlflow_tracking.registry()
    version = registry.alias_version(CHAMPION)
    if version is None:
        raise RegistryError(
            f"no '{CHAMPION}' version of '{registry.name}' yet; run training_job first"
        )
    threshold = float(registry.version_tags(version).get("threshold", 0.5))
    return version, threshold, registry.load(version)


@asset(
    ins={"features": AssetIn(), "feature_spec": AssetIn(), "promoted_model": AssetIn()},
    group_name="monitoring",
    kinds={"pandas", "scipy"},
    owners=["team:ml-platform"],
    description="The training reference: sorted columns, category counts, champion scores.",
)
def drift_reference(
    context: AssetExecutionContext,
    mlflow_tracking: MlflowResource,
    features: pd.DataFrame,
    feature_spec: dict,
    promoted_model: dict,
) -> Output[pd.DataFrame]:
    """Computed once per champion so that a batch's drift report costs one pass over the batch.

    Keeps the training split's columns (numeric sorted, categorical as counts), the champion's
    scores on it, the target, and the typical values used to explain scores."""
    fspec = FeatureSpec.from_dict(feature_spec)
    X_train, y_train = split_xy(features, fspec, "train")
    version, threshold, model = load_champion(mlflow_tracking)
    frame = X_train.assign(**{SCORE: model.predict_proba(X_train)[:, 1], TARGET: y_train})
    reference = build_reference(
        frame, list(fspec.numeric), list(fspec.categorical), SCORE, TARGET
    ).to_frame()
    reference.attrs.update(
        feature_spec=fspec.to_dict(),
        baseline={k: plain(v) for k, v in baseline_values(X_train).items()},
        champion_version=version,
        threshold=threshold,
    )
    context.log.info(f"reference of {len(X_train)} training rows, champion v{version}")
    return Output(
        reference,
        metadata={
            "reference_rows": len(X_train),
            "champion_version": version,
            "columns": MetadataValue.json(fspec.inputs),
        },
    )


@multi_asset(
    outs={
        "customer_batch": AssetOut(
            group_name="monitoring",
            kinds={"pandas", "parquet"},
            owners=["team:ml-platform"],
            description="An incoming batch file, validated with the training rules.",
        ),
        "batch_quarantine": AssetOut(
            group_name="monitoring",
            kinds={"pandas", "parquet"},
            owners=["team:ml-platform"],
            description="Rows of the batch that failed a rule, with every reason.",
        ),
    },
    ins={"drift_reference": AssetIn()},
    partitions_def=batches,
    check_specs=[
        AssetCheckSpec(name, asset="customer_batch", description=text, blocking=True)
        for name, text in BATCH_CHECKS.items()
    ],
)
def customer_batch(
    context: AssetExecutionContext,
    config: ValidationConfig,
    dataset: DatasetResource,
    landing: LandingResource,
    drift_reference: pd.DataFrame,
):
    """Read the partition's file from the landing location and validate it as training data was,
    with the column types of the training reference. Raises SourceError naming the file when it
    does not parse, so the run fails clearly and the sensor moves on."""
    name = context.partition_key
    spec = dataset.load_spec()
    fspec = drift_reference.attrs["feature_spec"]
    spec = spec.model_copy(
        update={"numeric_columns": fspec["numeric"], "categorical_columns": fspec["categorical"]}
    )
    raw = read_bytes(landing.read(name), landing.uri(name), file_format(name), spec.source)
    result = validate(raw, spec, require_target=False)
    report = result.report
    labeled = TARGET in result.valid.columns and result.valid[TARGET].notna().any()
    yield Output(
        result.valid,
        output_name="customer_batch",
        metadata={
            "file": landing.uri(name),
            "rows_in": report.rows_in,
            "rows_kept": report.rows_kept,
            "rows_quarantined": report.rows_quarantined,
            "quality_score": report.quality_score,
            "labeled": bool(labeled),
            "preview": preview(result.valid),
        },
    )
    yield Output(
        result.quarantined,
        output_name="batch_quarantine",
        metadata={"rows": len(result.quarantined), "reasons": MetadataValue.json(report.reasons)},
    )
    yield from quality_checks(
        report,
        len(raw),
        result.valid[ROW_COLUMN],
        result.quarantined[ROW_COLUMN],
        config,
        asset_key="customer_batch",
        labeled=False,
    )


class ScoringConfig(Config):
    reasons_for: str = Field(
        "positives", description="Rows that get top reasons: 'positives', 'all' or 'none'."
    )
    top_k: int = Field(3, ge=1, description="Reasons per row.")


@asset(
    ins={"customer_batch": AssetIn(), "drift_reference": AssetIn()},
    partitions_def=batches,
    group_name="monitoring",
    kinds={"sklearn", "mlflow"},
    owners=["team:ml-platform"],
    description="Churn probability, decision and top reasons per customer, by the champion.",
    check_specs=[
        AssetCheckSpec("prediction_volume", asset="batch_predictions"),
        AssetCheckSpec("score_range", asset="batch_predictions"),
        AssetCheckSpec("null_share", asset="batch_predictions"),
    ],
)
def batch_predictions(
    context: AssetExecutionContext,
    config: ScoringConfig,
    mlflow_tracking: MlflowResource,
    dataset: DatasetResource,
    metrics: MetricsResource,
    customer_batch: pd.DataFrame,
    drift_reference: pd.DataFrame,
):
    """Score the validated batch with the champion of the moment at its promoted threshold; the
    reasons are occlusion contributions of the raw columns (see `ml/explain.py`)."""
    version, threshold, model = load_champion(mlflow_tracking)
    inputs = list(model.feature_names_in_)
    id_column = dataset.load_spec().id_name
    proba = model.predict_proba(customer_batch[inputs])[:, 1]
    out = pd.DataFrame(
        {
            id_column: customer_batch[id_column].to_numpy(),
            SCORE: proba,
            "churn_predicted": (proba >= threshold).astype("int8"),
            "top_reasons": "",
            "model_version": version,
        }
    )
    explain = {"all": out.index, "positives": out.index[out["churn_predicted"] == 1]}.get(
        config.reasons_for, out.index[:0]
    )
    if len(explain):
        baseline = drift_reference.attrs["baseline"]
        rows = customer_batch.loc[explain, inputs]
        out.loc[explain, "top_reasons"] = top_reasons(model, rows, baseline, k=config.top_k)
    mean_score = float(proba.mean()) if len(out) else 0.0
    pushed = push_metrics(
        context,
        "prediction",
        lambda: metrics.record_predictions(context.partition_key, len(out), mean_score),
    )
    yield Output(
        out,
        metadata={
            **pushed,
            "champion_version": version,
            "threshold": threshold,
            "rows": len(out),
            "mean_score": mean_score,
            "predicted_churners": int(out["churn_predicted"].sum()),
            "preview": preview(out.nlargest(8, SCORE), rows=8),
        },
    )
    nulls = float(out[SCORE].isna().mean()) if len(out) else 0.0
    yield AssetCheckResult(
        check_name="prediction_volume",
        passed=len(out) == len(customer_batch) and len(out) > 0,
        metadata={"observed": len(out), "threshold": f"= validated rows ({len(customer_batch)})"},
    )
    yield AssetCheckResult(
        check_name="score_range",
        passed=bool(len(out) and proba.min() >= 0 and proba.max() <= 1 and proba.std() > 0),
        metadata={
            "observed": f"{proba.min():.4f}..{proba.max():.4f}" if len(out) else "empty",
            "threshold": "within [0, 1] and not constant",
        },
    )
    yield AssetCheckResult(
        check_name="null_share",
        passed=nulls == 0.0,
        metadata={"observed": nulls, "threshold": 0.0},
    )


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
    owners=["team:ml-platform"],
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
    customer_batch: pd.DataFrame,
    batch_predictions: pd.DataFrame,
    drift_reference: pd.DataFrame,
):
    """Compare the batch (and the champion's scores on it) with the training reference; write
    the standalone HTML report; record dataset drift as an error-severity check result."""
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
