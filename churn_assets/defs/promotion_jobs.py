"""The manual registry jobs: make a registered version champion (through the gate), roll back."""

from dagster import (
    AssetSpec,
    Definitions,
    IOManager,
    OpExecutionContext,
    ResourceParam,
    job,
    op,
)
from pydantic import Field

from churn_assets.constants import OPERATION_TAG
from churn_assets.defs.registry import GateSettings
from churn_assets.ml.evaluation.segments import holdout_segments
from churn_assets.ml.features import FeatureSpec, split_xy
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.model_registry import RegistryError


class PromoteConfig(GateSettings):
    """Manual promotion of a registered version."""

    version: str = Field(description="The model version to make champion.")
    force: bool = Field(False, description="Skip the gate (recorded on the version).")


def _stored(context: OpExecutionContext, io_manager: IOManager, key: str):
    """The stored value of asset `key`, loaded the way Dagster loads an asset value by key.

    An op input of a plain job carries no asset key in Dagster (In(asset_key=...) is not
    honoured there), so `Definitions.load_asset_value` over this run's IO manager does it."""
    stored = Definitions(assets=[AssetSpec(key)], resources={"io_manager": io_manager})
    return stored.load_asset_value(key, instance=context.instance)


@op(tags={OPERATION_TAG: "promotion"})
def promote_version(
    context: OpExecutionContext,
    config: PromoteConfig,
    mlflow_tracking: MlflowResource,
    io_manager: ResourceParam[IOManager],
) -> dict:
    """Move `champion` to the configured version through the same gate (unless forced)."""
    features = _stored(context, io_manager, "features")
    spec = _stored(context, io_manager, "feature_spec")
    registry = mlflow_tracking.registry()
    tags = registry.version_tags(config.version)
    threshold = float(tags.get("threshold", 0.5))
    X_test, y_test = split_xy(features, FeatureSpec.from_dict(spec), "test")
    outcome = registry.promote(
        config.version,
        X_test,
        y_test,
        threshold,
        config.gate(),
        force=config.force,
        segments=holdout_segments(spec, X_test),
    )
    context.log.info(f"v{config.version}: {outcome.reason}")
    if not outcome.promoted:
        raise RegistryError(f"v{config.version} was not promoted: {outcome.reason}")
    return outcome.to_dict()


@op(tags={OPERATION_TAG: "promotion"})
def rollback_champion(context: OpExecutionContext, mlflow_tracking: MlflowResource) -> dict:
    """Move `champion` back to the previous champion that still loads."""
    before, after = mlflow_tracking.registry().rollback()
    context.log.info(f"champion rolled back from v{before} to v{after}")
    return {"from": before, "to": after}


@job(tags={OPERATION_TAG: "promotion"}, description="Make a registered version champion.")
def promote_model():
    promote_version()


@job(tags={OPERATION_TAG: "promotion"}, description="Champion back to the previous one.")
def rollback_model():
    rollback_champion()
