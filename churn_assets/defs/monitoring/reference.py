"""The champion of the moment and the training reference every batch is compared with."""

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MetadataValue, Output, asset

from churn_assets.constants import CHAMPION, OWNERS
from churn_assets.ml.drift import build_reference
from churn_assets.ml.explain import baseline_values
from churn_assets.ml.features import FeatureSpec, split_xy
from churn_assets.ml.jsonable import plain
from churn_assets.ml.scoring import SCORE, churn_proba
from churn_assets.ml.validation import TARGET
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.model_registry import RegistryError


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
    owners=OWNERS,
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
    scores on it, and the target."""
    fspec = FeatureSpec.from_dict(feature_spec)
    X_train, y_train = split_xy(features, fspec, "train")
    version, _, model = load_champion(mlflow_tracking)
    # Scores computed in chunks; the two columns are added to a shallow copy (no copy of X_train).
    frame = X_train.copy(deep=False)
    frame[SCORE] = churn_proba(model, X_train)
    frame[TARGET] = y_train
    reference = build_reference(
        frame, list(fspec.numeric), list(fspec.categorical), SCORE, TARGET
    ).to_frame()
    context.log.info(f"reference of {len(X_train)} training rows, champion v{version}")
    return Output(
        reference,
        metadata={
            "reference_rows": len(X_train),
            "champion_version": version,
            "columns": MetadataValue.json(fspec.inputs),
        },
    )


@asset(
    ins={"features": AssetIn(), "feature_spec": AssetIn()},
    group_name="monitoring",
    kinds={"pandas"},
    owners=OWNERS,
    description="The typical training value of each model input: what a reason replaces it with.",
)
def explain_baseline(features: pd.DataFrame, feature_spec: dict) -> dict:
    """Median of each numeric input and mode of each categorical one on the training split (see
    `ml/explain.baseline_values`); `batch_predictions` explains scores against it."""
    X_train, _ = split_xy(features, FeatureSpec.from_dict(feature_spec), "train")
    return {k: plain(v) for k, v in baseline_values(X_train).items()}
