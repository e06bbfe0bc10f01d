"""The validated batch scored by the champion: probability, decision and reasons per customer."""

from typing import Literal

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    Config,
    Output,
    asset,
)
from pydantic import Field

from churn_assets.constants import OWNERS
from churn_assets.defs.decisions import batch_profit_metadata
from churn_assets.defs.metadata import preview, push_metrics
from churn_assets.defs.monitoring.batches import batches
from churn_assets.defs.monitoring.reference import load_champion
from churn_assets.ml.scoring import SCORE, score_batch
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.mlflow_tracking import MlflowResource


class ScoringConfig(Config):
    reasons_for: Literal["positives", "all", "none"] = Field(
        "positives", description="Rows that get top reasons: 'positives', 'all' or 'none'."
    )
    top_k: int = Field(3, ge=1, description="Reasons per row.")


@asset(
    ins={
        "customer_batch": AssetIn(),
        "explain_baseline": AssetIn(),
        "promoted_model": AssetIn(),
    },
    partitions_def=batches,
    group_name="monitoring",
    kinds={"sklearn", "mlflow"},
    owners=OWNERS,
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
    explain_baseline: dict,
    promoted_model: dict,
):
    """Score the validated batch with the champion of the moment at its promoted threshold; the
    reasons are occlusion contributions of the raw columns (see `ml/explain.py`). Raises
    RegistryError when there is no champion yet."""
    # The registry alias is the truth (a rollback may have moved it since the last promotion);
    # `promoted_model` is the decision this scoring follows in the lineage, shown beside it.
    version, threshold, model = load_champion(mlflow_tracking)
    spec = dataset.load_spec()
    scored = score_batch(
        model,
        customer_batch,
        threshold,
        version,
        spec.id_name,
        explain_baseline,
        reasons_for=config.reasons_for,
        top_k=config.top_k,
    )
    out = scored.frame
    pushed = push_metrics(
        context,
        "prediction",
        lambda: metrics.record_predictions(context.partition_key, len(out), scored.mean_score),
    )
    yield Output(
        out,
        metadata={
            **pushed,
            "champion_version": version,
            "last_promotion_decision": str(promoted_model.get("champion_version") or "none"),
            "threshold": threshold,
            "rows": len(out),
            "mean_score": scored.mean_score,
            "predicted_churners": scored.predicted_churners,
            "preview": preview(out.nlargest(8, SCORE), rows=8),
            **batch_profit_metadata(spec, scored.proba, threshold),
        },
    )
    yield AssetCheckResult(
        check_name="prediction_volume",
        passed=scored.volume_ok,
        metadata={"observed": len(out), "threshold": f"= validated rows ({len(customer_batch)})"},
    )
    yield AssetCheckResult(
        check_name="score_range",
        passed=scored.score_range_ok,
        metadata={"observed": scored.score_range, "threshold": "within [0, 1] and not constant"},
    )
    yield AssetCheckResult(
        check_name="null_share",
        passed=scored.null_share == 0.0,
        metadata={"observed": scored.null_share, "threshold": 0.0},
    )
