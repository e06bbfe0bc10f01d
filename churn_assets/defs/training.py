"""Group training: one asset per model family, each tuned, tracked in MLflow and logged as a model.

Each family is its own asset (and, in production, its own pod), so nothing passes between them
except through assets: the trained asset's value is a small JSON record (MLflow run and model URI,
parameters, CV metrics, the threshold chosen out of fold); the fitted Pipeline lives in MLflow.
"""

from typing import Literal

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, Config, MetadataValue, Output, asset
from joblib import cpu_count
from pydantic import Field

from churn_assets.constants import OWNERS
from churn_assets.defs.lineage import CODE_VERSION, input_data_version, run_tags
from churn_assets.defs.metadata import png, table_md
from churn_assets.ml.evaluation import choose_threshold, holdout_metrics, plot_confusion_matrix
from churn_assets.ml.evaluation.profit import Economics
from churn_assets.ml.features import FeatureSpec, build_preprocessor, split_xy
from churn_assets.ml.models import FAMILIES, SearchBudget, train_family
from churn_assets.ml.scoring import churn_proba
from churn_assets.resources.git import GitResource
from churn_assets.resources.mlflow_models import log_pipeline
from churn_assets.resources.mlflow_tracking import MlflowResource

# Pod sizes per family (production runs each step in its own pod via k8s_job_executor).
POD_RESOURCES = {
    "logistic_regression": ("500m", "1Gi", "1", "2Gi"),
    "random_forest": ("2", "4Gi", "2", "4Gi"),
    "gradient_boosting": ("1", "2Gi", "2", "4Gi"),
    "xgboost": ("2", "4Gi", "2", "4Gi"),
}
REPORTED_METRICS = ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "brier")


class TrainingConfig(Config):
    """Search budget and threshold objective of one family's training (see `SearchBudget`)."""

    n_iter: int = Field(9, ge=1, description="Candidates in the first rung of the halving search.")
    cv_folds: int = Field(3, ge=2, description="Stratified folds of the cross-validation.")
    random_state: int = Field(42, description="Seed of folds, search and estimators.")
    factor: int = Field(3, ge=2, description="Each rung keeps 1/factor of the candidates.")
    max_search_rows: int = Field(
        50_000,
        ge=100,
        description="Rows of the last rung; a larger table is searched on a seeded sample and "
        "refitted on all rows (the forest's trees each draw this many rows).",
    )
    search_trees: int = Field(30, ge=1, description="Random-forest trees while searching.")
    refit_trees: int = Field(
        500,
        ge=1,
        description="Random-forest trees out of fold and in the refit, at most; fewer on larger "
        "tables (100 from 16k training rows on, see `SearchBudget`).",
    )
    n_jobs: int = Field(
        0, ge=0, description="Parallel fits; 0 = every CPU this process may use (cgroup-aware)."
    )
    threshold_objective: str = Field(
        "auto",
        description="'f1', 'cost' or 'profit'; 'auto' is 'profit' when the dataset spec has "
        "`economics`, else 'f1'.",
    )
    calibration: Literal["auto", "none"] = Field(
        "auto",
        description="'auto': map scores to probabilities by none, sigmoid or isotonic, chosen by "
        "cross-validated log loss over the out-of-fold scores; 'none': keep the raw scores.",
    )
    cost_false_negative: float = Field(5.0, gt=0, description="Cost of missing a churner.")
    cost_false_positive: float = Field(1.0, gt=0, description="Cost of a retention offer.")

    def budget(self) -> SearchBudget:
        """The `SearchBudget` these settings describe."""
        return SearchBudget(
            n_iter=self.n_iter,
            cv_folds=self.cv_folds,
            random_state=self.random_state,
            n_jobs=self.n_jobs or cpu_count(),
            factor=self.factor,
            max_search_rows=self.max_search_rows,
            search_trees=self.search_trees,
            refit_trees=self.refit_trees,
            calibration=self.calibration,
        )


def _metrics_table(result, test_metrics: dict) -> pd.DataFrame:
    """CV mean and spread beside the holdout value, per metric (`result`: a TrainResult)."""
    return pd.DataFrame(
        [
            {
                "metric": m,
                "cv_mean": result.cv_metrics[f"cv_{m}_mean"],
                "cv_std": result.cv_metrics[f"cv_{m}_std"],
                "holdout": test_metrics.get(m),
            }
            for m in REPORTED_METRICS
        ]
    )


def _budget_params(budget: SearchBudget, rows: int) -> dict:
    """The budget as MLflow parameters, with what it meant for these rows."""
    plan = budget.plan(rows)
    keys = ("n_iter", "cv_folds", "factor", "max_search_rows", "search_trees", "refit_trees")
    return {
        **{k: getattr(budget, k) for k in keys},
        "n_jobs": budget.n_jobs,
        "search_rows": plan.search_rows,
        "calibration_setting": budget.calibration,
    }


CALIBRATION_FIGURES = ("log_loss", "brier")


def _calibration_metrics(calibration: dict) -> dict[str, float]:
    """Out-of-fold log loss and Brier before and after the calibration map."""
    return {
        f"calibration_oof_{m}_{when}": calibration[f"oof_{m}_{when}"]
        for m in CALIBRATION_FIGURES
        for when in ("before", "after")
        if f"oof_{m}_{when}" in calibration
    }


def release_worker_pool() -> None:
    """Stop joblib's worker processes now when this step runs in a multiprocessing child.

    The multiprocess executor runs each step in such a child, which on exit joins its child
    processes before joblib's exit hook has told its idle workers to stop: the step's process
    then lingered for the workers' 300 s idle timeout after the step had finished. A main
    process (in-process executor, a Kubernetes step pod) stops them at exit by itself.
    """
    import multiprocessing

    if multiprocessing.parent_process() is None:
        return
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def _timings(result) -> dict[str, float]:
    """Where the training time went (`result`: a TrainResult)."""
    return {
        "search_seconds": result.search_seconds,
        "oof_seconds": result.oof_seconds,
        "refit_seconds": result.refit_seconds,
    }


def train_and_log(
    context: AssetExecutionContext,
    family: str,
    config: TrainingConfig,
    resources: tuple[MlflowResource, GitResource],
    features: pd.DataFrame,
    feature_spec: dict,
) -> Output[dict]:
    """Tune `family` on the training rows, choose its threshold out of fold, score the holdout,
    and log run and model to MLflow; returns the JSON record the evaluation reads."""
    mlflow_tracking, git = resources
    fspec = FeatureSpec.from_dict(feature_spec)
    X_train, y_train = split_xy(features, fspec, "train")
    X_test, y_test = split_xy(features, fspec, "test")
    data_version = input_data_version(context, "features")
    budget = config.budget()
    result = train_family(family, build_preprocessor(fspec), X_train, y_train, budget)
    release_worker_pool()
    economics = Economics.from_record(feature_spec.get("economics"))
    objective = config.threshold_objective
    if objective == "auto":
        objective = "profit" if economics is not None else "f1"
    threshold, rationale = choose_threshold(
        y_train,
        result.oof_proba,
        objective=objective,
        cost_false_negative=config.cost_false_negative,
        cost_false_positive=config.cost_false_positive,
        economics=economics,
    )
    proba = churn_proba(result.pipeline, X_test)
    test_metrics = holdout_metrics(y_test, proba, threshold)
    confusion = plot_confusion_matrix(
        y_test, (proba >= threshold).astype(int), f"{family} at threshold {threshold:.3f}"
    )
    for warning in result.warnings:
        context.log.warning(f"{family}: {warning}")
    tags = run_tags(context, data_version, git.commit_sha())
    with mlflow_tracking.start_run(family, tags) as run:
        run.log_params({k.removeprefix("model__"): v for k, v in result.best_params.items()})
        run.log_params({"family": family, **_budget_params(budget, len(X_train))})
        run.log_metrics(result.cv_metrics)
        run.log_params({"calibration": result.calibration["method"]})
        run.log_metrics(_calibration_metrics(result.calibration))
        run.log_text(result.calibration["reason"], "calibration.txt")
        # Seconds are tags, not metrics: the same data, config and seed give the same metrics.
        for key, seconds in _timings(result).items():
            run.set_tag(key, round(seconds, 2))
        run.log_metrics({f"test_{k}": v for k, v in test_metrics.items()})
        run.log_table(result.trials, "search/trials.json")
        run.log_table(result.rungs, "search/rungs.json")
        run.log_text(rationale, "threshold.txt")
        run.log_png(confusion, "plots/confusion_matrix.png")
        model_info = run.log_model(log_pipeline, result.pipeline, X_train)
    record = {
        "family": family,
        "mlflow_run_id": run.run_id,
        "model_uri": model_info.model_uri,
        "best_params": result.best_params,
        "cv_metrics": result.cv_metrics,
        "test_metrics": test_metrics,
        "threshold": threshold,
        "threshold_rationale": rationale,
        "features": fspec.inputs,
        "data_version": data_version,
        "train_rows": len(X_train),
        "random_state": config.random_state,
        "fit_seconds": result.fit_seconds,
        "trees": result.trees,
        "warnings": result.warnings,
        "calibration": result.calibration,
    }
    return Output(
        record,
        metadata={
            "mlflow_run_id": run.run_id,
            "mlflow_run": mlflow_tracking.run_link(run.run_id),
            "model_uri": model_info.model_uri,
            "cv_roc_auc": result.cv_metrics["cv_roc_auc_mean"],
            "holdout_roc_auc": test_metrics["roc_auc"],
            "threshold": threshold,
            "threshold_rationale": rationale,
            "calibration": result.calibration["method"],
            "calibration_reason": result.calibration["reason"],
            **{k: round(v, 4) for k, v in _calibration_metrics(result.calibration).items()},
            "metrics": table_md(_metrics_table(result, test_metrics)),
            "best_params": MetadataValue.json(result.best_params),
            "search_rungs": table_md(result.rungs),
            "search_trials": table_md(result.trials.sort_values(["rung", "rank"]).head(10)),
            "trees": result.trees if result.trees is not None else "n/a",
            **{k: round(v, 2) for k, v in _timings(result).items()},
            "confusion_matrix": png(confusion, "confusion matrix"),
            "fit_seconds": round(result.fit_seconds, 2),
            "convergence_warnings": MetadataValue.json(result.warnings),
        },
    )


def trained_model_asset(family: str):
    cpu_request, memory_request, cpu_limit, memory_limit = POD_RESOURCES[family]
    kinds = {"sklearn", "mlflow"} | ({"xgboost"} if family == "xgboost" else set())

    @asset(
        key=["trained_models", family],
        ins={"features": AssetIn(key="features"), "feature_spec": AssetIn(key="feature_spec")},
        group_name="training",
        kinds=kinds,
        owners=OWNERS,
        code_version=CODE_VERSION,
        description=f"A tuned {family.replace('_', ' ')} Pipeline, logged to MLflow.",
        op_tags={
            "dagster-k8s/config": {
                "container_config": {
                    "resources": {
                        "requests": {"cpu": cpu_request, "memory": memory_request},
                        "limits": {"cpu": cpu_limit, "memory": memory_limit},
                    }
                }
            }
        },
    )
    def _trained(
        context: AssetExecutionContext,
        config: TrainingConfig,
        mlflow_tracking: MlflowResource,
        git: GitResource,
        features: pd.DataFrame,
        feature_spec: dict,
    ) -> Output[dict]:
        """Tune the family by successive halving over rows (stratified CV), refit it, choose the
        threshold out of fold, log the run and model to MLflow. Raises ValueError on a single
        class, MlflowUnavailableError when MLflow cannot be reached."""
        resources = (mlflow_tracking, git)
        return train_and_log(context, family, config, resources, features, feature_spec)

    return _trained


trained_models = [trained_model_asset(family) for family in FAMILIES]
