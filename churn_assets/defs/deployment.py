"""Group deployment: the champion rolled out to the model server, smoke-tested, rolled back.

Which is the source of truth: the MLflow registry's `champion` alias says which version SHOULD
serve; the server's pin (CHURN_MODEL_VERSION on the Deployment's pod template, or on the local
process) says which version DOES. `deployed_model` makes the second follow the first. When a
rollout or its smoke test fails, the server goes back to the version it served before and the
alias is moved back to that same version, so after every materialization, passed or failed, the
alias names the version that is serving. If they differ outside a run (an operator moved the
alias or edited the Deployment), the alias wins at the next `deployed_model`.
"""

import json

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    Config,
    Failure,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from churn_assets.ml.features import FeatureSpec, split_xy
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.model_registry import CHAMPION, ModelRegistry, RegistryError
from churn_assets.resources.model_server import ModelServerTarget, RolloutError
from churn_assets.rollout import smoke_problems


class DeployConfig(Config):
    """The smoke test after a rollout."""

    smoke_rows: int = Field(5, ge=1, le=1000, description="Holdout rows sent to POST /predict.")
    tolerance: float = Field(
        1e-6,
        gt=0,
        description="Largest difference allowed between the served probabilities "
        "and the registry's copy of the version on the same rows.",
    )


def smoke_payload(
    features: pd.DataFrame, spec: FeatureSpec, model, n_rows: int
) -> tuple[list[dict], list[float]]:
    """The first `n_rows` holdout rows as JSON records, and the probabilities `model` gives."""
    X_test, _ = split_xy(features, spec, "test")
    rows = X_test.head(n_rows)
    columns = list(getattr(model, "feature_names_in_", rows.columns))
    expected = model.predict_proba(rows[columns])[:, 1]
    return json.loads(rows[columns].to_json(orient="records")), [float(p) for p in expected]


def _restore(registry: ModelRegistry, previous: str | None, version: str, why: str) -> str:
    """Move `champion` back to what serves after the rollback; returns what was done."""
    try:
        return registry.restore_champion(previous, version, why)
    except RegistryError as exc:
        return f"champion alias left at v{version}: {exc}"


@asset(
    ins={"promoted_model": AssetIn(), "features": AssetIn(), "feature_spec": AssetIn()},
    group_name="deployment",
    kinds={"kubernetes"},
    owners=["team:ml-platform"],
    description="The champion served by the model server, smoke-tested; rolled back on failure.",
)
def deployed_model(
    context: AssetExecutionContext,
    config: DeployConfig,
    mlflow_tracking: MlflowResource,
    model_server: ModelServerTarget,
    promoted_model: dict,
    features: pd.DataFrame,
    feature_spec: dict,
) -> Output[dict]:
    """Roll the registry's champion out to `model_server` (Kubernetes Deployment in production,
    a local process locally), wait for the rollout, then smoke-test the server: GET /ready is
    200, GET /model reports the champion's version, POST /predict of holdout rows gives
    probabilities in [0, 1] equal to the registry's copy of that version. On any failure the
    server goes back to the version it served before, the `champion` alias follows it, and the
    step raises Failure with the reason. Returns the served version and what was done."""
    registry = mlflow_tracking.registry()
    version = registry.alias_version(CHAMPION)
    if version is None:
        raise Failure("no champion in the registry to deploy; materialize promoted_model first")
    if version != str(promoted_model.get("champion_version")):
        context.log.warning(
            f"the champion alias is v{version}, promoted_model recorded "
            f"v{promoted_model.get('champion_version')}: the alias is the source of truth"
        )
    previous = model_server.served_version()
    spec = FeatureSpec.from_dict(feature_spec)
    records, expected = smoke_payload(features, spec, registry.load(version), config.smoke_rows)
    problems, steps = [], []
    try:
        steps.append(model_server.roll_to(version))
        answers = model_server.smoke(records)
        problems = answers.errors + smoke_problems(
            answers.ready_status,
            answers.model_info,
            answers.predictions,
            version,
            len(records),
            expected,
            config.tolerance,
        )
    except RolloutError as exc:
        problems = [f"rollout failed: {exc}"]
    if problems:
        reason = "; ".join(problems)
        context.log.error(f"v{version} on {model_server.describe()}: {reason}")
        if previous == version:
            raise Failure(
                f"v{version} was already serving and fails its smoke test: {reason}. Nothing "
                "was changed, so nothing is rolled back; promote another version.",
                metadata={"version": version, "target": model_server.describe()},
            )
        alias = _restore(registry, previous, version, reason)
        try:
            steps.append(model_server.roll_back(previous))
        except RolloutError as exc:
            steps.append(f"ROLLBACK FAILED, the server needs a person: {exc}")
        raise Failure(
            f"v{version} was not deployed: {reason}. Rolled back: {steps[-1]}; {alias}.",
            metadata={
                "version": version,
                "previous_version": previous or "none",
                "target": model_server.describe(),
                "problems": MetadataValue.json(problems),
                "steps": MetadataValue.json(steps),
                "alias": alias,
            },
        )
    context.log.info(f"v{version} serves on {model_server.describe()}: {steps[-1]}")
    record = {
        "version": version,
        "previous_version": previous,
        "target": model_server.describe(),
        "url": model_server.base_url(),
        "steps": steps,
    }
    return Output(
        record,
        metadata={
            "version": version,
            "previous_version": previous or "none",
            "target": model_server.describe(),
            "url": MetadataValue.url(model_server.base_url()),
            "steps": MetadataValue.json(steps),
            "smoke_rows": len(records),
            "smoke_probabilities": MetadataValue.json([round(p, 6) for p in expected]),
        },
    )
