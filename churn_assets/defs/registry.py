"""Group registry: the promoted model and its checks (manual jobs: `promotion_jobs.py`)."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    Output,
    asset,
    asset_check,
)

from churn_assets.constants import OWNERS
from churn_assets.defs.metadata import push_metrics
from churn_assets.defs.settings import config_from, to_dataclass
from churn_assets.ml.evaluation.segments import holdout_segments
from churn_assets.ml.features import FeatureSpec, build_preprocessor, labeled_xy, split_xy
from churn_assets.ml.models.calibration import calibration_text
from churn_assets.ml.models.refit import refit_all_rows
from churn_assets.ml.promotion import GateConfig, render_model_card
from churn_assets.ml.validation import TARGET
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.mlflow_models import log_pipeline
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.model_evidence import EVIDENCE_TAG
from churn_assets.resources.model_registry import CHAMPION, RegistryError, check_scores

SAMPLE_ROWS = 500


class GateSettings(
    config_from(
        GateConfig,
        ["min_metrics", "max_auc_drop", "n_resamples", "random_state"]
        + ["segment_rule", "segment_min_rows", "segment_max_auc_drop"],
        limits={
            "max_auc_drop": {"ge": 0},
            "n_resamples": {"ge": 1000},
            "segment_min_rows": {"ge": 1},
            "segment_max_auc_drop": {"ge": 0},
        },
    )
):
    """The promotion gate: absolute thresholds and the paired comparison with the champion."""

    def gate(self) -> GateConfig:
        return to_dataclass(self, GateConfig)


def _final_fit(context, mlflow_tracking, family: str, candidate: dict, features, fspec, version):
    """Refit the chosen family's tuned parameters on every labeled row (train + holdout) and log
    it in its own MLflow run; returns (model_uri, run_id, rows). The evaluated model, fitted on
    the training split only, stays the evidence the gate and the card report."""
    X_all, y_all = labeled_xy(features, fspec)
    final = refit_all_rows(
        family,
        candidate["best_params"],
        build_preprocessor(fspec),
        X_all,
        y_all,
        candidate.get("random_state", 42),
        calibration=candidate.get("calibration"),
    )
    tags = {
        "dagster_run_id": context.run.run_id,
        "dagster_asset_key": "promoted_model",
        "data_version": version,
        "evaluated_run_id": candidate["mlflow_run_id"],
    }
    with mlflow_tracking.start_run(f"{family}_final_fit", tags) as run:
        method = (candidate.get("calibration") or {}).get("method", "off")
        run.log_params({"family": family, "final_fit_rows": len(X_all), "calibration": method})
        run.log_params({k.removeprefix("model__"): v for k, v in candidate["best_params"].items()})
        info = run.log_model(log_pipeline, final, X_all)
    return info.model_uri, run.run_id, len(X_all)


def _card(
    model_name: str,
    evaluation: dict,
    family: str,
    version: str,
    outcome,
    spec_source: str,
    features,
):
    candidate = evaluation["candidates"][family]
    counts = features[TARGET].value_counts().to_dict()
    n_train = int((features["split"] == "train").sum())
    n_holdout = int((features["split"] == "test").sum())
    return render_model_card(
        model_name=model_name,
        family=family,
        version=version,
        data_source=spec_source,
        n_rows={"train": n_train, "holdout": n_holdout, "final fit": n_train + n_holdout},
        data_version=evaluation["data_version"],
        class_balance={int(k): int(v) for k, v in counts.items()},
        metrics=outcome.evidence.get("metric_intervals") or candidate["metrics"],
        threshold=candidate["threshold"],
        threshold_rationale=candidate["threshold_rationale"],
        features=evaluation["features"],
        promotion_reason=outcome.reason,
        evidence=(
            f"evaluated on {n_holdout} holdout rows by the model fitted on the {n_train} "
            f"training rows; final fit (the registered model) on all {n_train + n_holdout} "
            "labeled rows with the same parameters"
        ),
        selected_by=evaluation.get("selected_by", "holdout ROC AUC"),
        sections=evaluation.get("card_sections"),
        calibration=calibration_text(candidate.get("calibration") or {}),
    )


@asset(
    ins={"model_evaluation": AssetIn(), "features": AssetIn(), "feature_spec": AssetIn()},
    group_name="registry",
    kinds={"mlflow"},
    owners=OWNERS,
    description="The best candidate registered as a new version; champion if it passes the gate.",
)
def promoted_model(
    context: AssetExecutionContext,
    config: GateSettings,
    mlflow_tracking: MlflowResource,
    dataset: DatasetResource,
    metrics: MetricsResource,
    model_evaluation: dict,
    features: pd.DataFrame,
    feature_spec: dict,
) -> Output[dict]:
    """Refit the best candidate on every labeled row, register that final model with alias
    `challenger` and run the gate on its evidence model (the same parameters fitted on the
    training split only): absolute thresholds, then a seeded paired bootstrap of the ROC AUC
    difference against the champion's evidence model on the same holdout. A refused model stays
    registered as challenger with its reason; nothing returns None. Raises
    MlflowUnavailableError when the registry cannot be reached."""
    from churn_assets.ml.promotion import bootstrap_metric_intervals

    best = model_evaluation["best"]
    candidate = model_evaluation["candidates"][best]
    fspec = FeatureSpec.from_dict(feature_spec)
    final_uri, final_run, final_rows = _final_fit(
        context, mlflow_tracking, best, candidate, features, fspec, model_evaluation["data_version"]
    )
    registry = mlflow_tracking.registry()
    version = registry.register(
        final_uri,
        final_run,
        {
            "family": best,
            "threshold": candidate["threshold"],
            "data_version": model_evaluation["data_version"],
            "dagster_run_id": context.run.run_id,
            EVIDENCE_TAG: candidate["model_uri"],
            "evaluated_run_id": candidate["mlflow_run_id"],
            "train_rows": candidate.get("train_rows", ""),
            "final_fit_rows": final_rows,
        },
    )
    X_test, y_test = split_xy(features, fspec, "test")
    segments = holdout_segments(feature_spec, X_test)
    outcome = registry.promote(
        version, X_test, y_test, candidate["threshold"], config.gate(), segments=segments
    )
    if outcome.metrics:
        intervals = bootstrap_metric_intervals(y_test, outcome.scores, candidate["threshold"])
        outcome.evidence["metric_intervals"] = {
            k: (outcome.metrics[k], lo, hi) for k, (lo, hi) in intervals.items()
        }
    spec = dataset.load_spec()
    card = _card(
        registry.name,
        model_evaluation,
        best,
        version,
        outcome,
        dataset.describe(spec),
        features[[TARGET, "split"]],
    )
    registry.attach_card(version, final_run, card)
    (context.log.info if outcome.promoted else context.log.warning)(
        f"v{version} ({best}): {outcome.reason}"
    )
    pushed = {}
    if outcome.promoted:
        pushed = push_metrics(
            context,
            "champion",
            lambda: metrics.record_champion(registry.name, version, outcome.metrics),
        )
    record = {
        **outcome.to_dict(),
        "family": best,
        "model_name": registry.name,
        "threshold": candidate["threshold"],
        "final_fit_rows": final_rows,
        "evidence_model_uri": candidate["model_uri"],
        "gate": {"min_metrics": dict(config.min_metrics), "max_auc_drop": config.max_auc_drop},
    }
    return Output(
        record,
        metadata={
            "decision": "promoted" if outcome.promoted else "refused",
            "reason": outcome.reason,
            "version": version,
            "family": best,
            "champion_version": outcome.champion_version or "none",
            "previous_champion": outcome.previous_champion or "none",
            "threshold": candidate["threshold"],
            "evaluated_on": f"{len(X_test)} holdout rows, model fitted on the training split",
            "final_fit_rows": final_rows,
            "evidence_model_uri": candidate["model_uri"],
            "holdout_metrics": MetadataValue.json(outcome.metrics),
            "evidence": MetadataValue.json(outcome.evidence),
            "model_card": MetadataValue.md(card),
            **pushed,
        },
    )


@asset_check(
    asset=promoted_model,
    additional_ins={"validated_dataset": AssetIn()},
    blocking=True,
    description="The champion loads from the registry and scores validated rows sensibly.",
)
def champion_loads_and_scores(
    mlflow_tracking: MlflowResource, validated_dataset: pd.DataFrame, promoted_model: dict
) -> AssetCheckResult:
    registry = mlflow_tracking.registry()
    champion = registry.alias_version(CHAMPION)
    if champion is None:
        return AssetCheckResult(
            passed=False,
            metadata={"observed": "no champion", "threshold": "a champion that loads"},
        )
    sample = validated_dataset.sample(min(SAMPLE_ROWS, len(validated_dataset)), random_state=0)
    threshold = "loads; probabilities in [0,1], varied"
    try:
        model = registry.load(champion)
        missing = [c for c in model.feature_names_in_ if c not in sample.columns]
        if missing:  # a model of another table (see the gate's reason on promoted_model)
            observed = (
                f"v{champion} cannot score these rows: it takes columns they lack "
                f"({', '.join(map(str, missing))}); it was trained on another table"
            )
            return AssetCheckResult(
                passed=False, metadata={"observed": observed, "threshold": threshold}
            )
        proba = model.predict_proba(sample[list(model.feature_names_in_)])[:, 1]
        check_scores(proba)
    except (RegistryError, ValueError, KeyError) as exc:
        return AssetCheckResult(
            passed=False, metadata={"observed": str(exc), "threshold": threshold}
        )
    return AssetCheckResult(
        passed=True,
        metadata={
            "observed": f"v{champion}: {len(proba)} rows, {proba.min():.3f}..{proba.max():.3f}",
            "threshold": "probabilities in [0, 1], not constant",
            "score_std": float(proba.std()),
        },
    )


@asset_check(
    asset=promoted_model,
    description="The champion's recorded holdout metrics meet the gate's thresholds.",
)
def champion_meets_thresholds(
    mlflow_tracking: MlflowResource, promoted_model: dict
) -> AssetCheckResult:
    registry = mlflow_tracking.registry()
    champion = registry.alias_version(CHAMPION)
    thresholds = promoted_model["gate"]["min_metrics"]
    if champion is None:
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.WARN,
            metadata={"observed": "no champion", "threshold": MetadataValue.json(thresholds)},
        )
    tags = registry.version_tags(champion)
    observed = {m: float(tags.get(f"holdout_{m}", "nan")) for m in thresholds}
    failing = {m: v for m, v in observed.items() if not v >= thresholds[m]}
    return AssetCheckResult(
        passed=not failing,
        metadata={
            "champion_version": champion,
            "observed": MetadataValue.json(observed),
            "threshold": MetadataValue.json(thresholds),
            "failing": MetadataValue.json(failing),
        },
    )
