"""Realized performance of a scored batch, once its churn outcomes arrive.

Partitioned like the batches it joins (`customer_batches`): the partition of a batch is
materialized again each time more of its outcomes arrive (the outcomes sensor requests it), so
the UI shows one partition whose history is the realized performance as the outcomes came in.
"""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetRecordsFilter,
    Output,
    asset,
)

from churn_assets.constants import OWNERS
from churn_assets.defs.decisions import realized_segment_metadata
from churn_assets.defs.metadata import png, push_metrics, table_md
from churn_assets.defs.monitoring.batches import batches
from churn_assets.defs.settings import config_from, to_dataclass
from churn_assets.ml.evaluation.plots import plot_calibration
from churn_assets.ml.evaluation.realized import DecayRule, join_outcomes, observed_after
from churn_assets.ml.evaluation.realized import realized_performance as judge
from churn_assets.ml.scoring import SCORE, VERSION
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.mlflow_tracking import MlflowResource

REALIZED_ASSET = "realized_performance"
DECAY_CHECK = "realized_auc_decay"


class RealizedSettings(config_from(DecayRule, ["margin", "min_outcomes", "min_per_class"])):
    """When realized performance counts as decayed, and the bootstrap behind the intervals."""

    n_resamples: int = 500

    def rule(self) -> DecayRule:
        return to_dataclass(self, DecayRule)


@asset(
    ins={"batch_predictions": AssetIn(), "churn_outcomes": AssetIn(), "customer_batch": AssetIn()},
    partitions_def=batches,
    group_name="monitoring",
    kinds={"sklearn"},
    owners=OWNERS,
    description="ROC/PR AUC, calibration, lift and recall of a scored batch on its outcomes.",
    check_specs=[
        AssetCheckSpec(
            DECAY_CHECK,
            asset=REALIZED_ASSET,
            description="Realized ROC AUC not below the model card's holdout AUC by more than "
            "the margin (decided once enough outcomes arrived).",
        )
    ],
)
def realized_performance(
    context: AssetExecutionContext,
    config: RealizedSettings,
    dataset: DatasetResource,
    mlflow_tracking: MlflowResource,
    metrics: MetricsResource,
    batch_predictions: pd.DataFrame,
    churn_outcomes: pd.DataFrame,
    customer_batch: pd.DataFrame,
):
    """Join the batch's scores with the outcomes that arrived (observed at or after the batch
    was scored; earlier ones are only counted, as `outcomes_before_scoring`), compute the
    realized metrics with bootstrap intervals against the holdout AUC of the model version that
    scored it (its model card's `holdout_roc_auc`), push them as metrics, and warn on decay."""
    name = context.partition_key
    rule = config.rule()
    scored_at = _scored_at(context.instance, name)
    # Outcomes already known when the batch was scored are no test of its forecast.
    id_name = dataset.load_spec().id_name
    joined = join_outcomes(batch_predictions, observed_after(churn_outcomes, scored_at)[0], id_name)
    before = len(join_outcomes(batch_predictions, churn_outcomes, id_name)) - len(joined)
    version = str(batch_predictions[VERSION].iloc[0]) if len(batch_predictions) else None
    # The model card of the version that scored: holdout metrics and the promoted threshold.
    card = mlflow_tracking.registry().describe(version) if version else {"metrics": {}, "tags": {}}
    threshold = float(card["tags"].get("threshold", 0.5))
    result = judge(
        joined["churned"].to_numpy(),
        joined[SCORE].to_numpy(),
        len(batch_predictions),
        threshold,
        card["metrics"].get("roc_auc"),
        rule,
        n_resamples=config.n_resamples,
    )
    decayed = result.status == "decayed"
    # With `segments` in the spec: the same slices as the evaluation (customer_batch has them).
    by_segment, segment_rows = realized_segment_metadata(
        dataset.load_spec(), joined, customer_batch, threshold
    )
    pushed = push_metrics(
        context,
        "realized performance",
        lambda: metrics.record_realized(
            name, result.outcome_share, result.metrics, result.auc_gap, decayed
        ),
    )
    record = {
        "batch": name,
        "model_version": version,
        "threshold": threshold,
        "rows_scored": result.rows_scored,
        "rows_with_outcome": result.rows_with_outcome,
        "outcome_share": result.outcome_share,
        "scored_at": scored_at.isoformat() if scored_at is not None else None,
        "outcomes_before_scoring": before,
        "holdout_auc": result.holdout_auc,
        "status": result.status,
        "reason": result.reason,
        "metrics": result.metrics,
        "intervals": {k: list(v) for k, v in result.intervals.items()},
        **({"segments": segment_rows} if segment_rows else {}),
    }
    metadata = {
        **pushed,
        "batch": name,
        "model_version": version or "none",
        "rows_scored": result.rows_scored,
        "rows_with_outcome": result.rows_with_outcome,
        "outcome_share": round(result.outcome_share, 4),
        "scored_at": scored_at.isoformat() if scored_at is not None else "unknown",
        "outcomes_before_scoring": before,
        "status": result.status,
        "decayed": decayed,
        "reason": result.reason,
        "holdout_auc": result.holdout_auc if result.holdout_auc is not None else "unknown",
        **{f"realized_{k}": v for k, v in result.metrics.items()},
        **by_segment,
    }
    if result.metrics:
        metadata["metrics_table"] = table_md(_table(result))
        curve = plot_calibration(
            {"realized": (joined["churned"].to_numpy(), joined[SCORE].to_numpy())},
            title=f"Calibration on outcomes: {name}",
        )
        metadata["reliability_curve"] = png(curve, "reliability curve")
    yield Output(record, metadata=metadata)
    yield AssetCheckResult(
        check_name=DECAY_CHECK,
        passed=not decayed,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "observed": result.metrics.get("roc_auc", f"{result.rows_with_outcome} outcomes"),
            "threshold": (
                f">= holdout AUC {result.holdout_auc:.4f} - margin {rule.margin}"
                if result.holdout_auc is not None
                else "no holdout AUC on the model card"
            ),
            "status": result.status,
            "reason": result.reason,
        },
    )


def _scored_at(instance, partition: str) -> pd.Timestamp | None:
    """When the batch's predictions (the ones read here: the latest) were materialized."""
    found = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("batch_predictions"), asset_partitions=[partition]),
        limit=1,
        ascending=False,
    ).records
    return pd.Timestamp(found[0].timestamp, unit="s", tz="UTC") if found else None


def _table(result) -> pd.DataFrame:
    rows = []
    for metric, value in result.metrics.items():
        low, high = result.intervals.get(metric, (None, None))
        rows.append({"metric": metric, "value": value, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)
