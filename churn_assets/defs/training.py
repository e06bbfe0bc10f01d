"""Group training: one asset per model family, each tuned, tracked in MLflow and logged as a model.

Each family is its own asset (and, in production, its own pod), so nothing passes between them
except through assets: the trained asset's value is a small JSON record (MLflow run and model URI,
parameters, CV metrics, the threshold chosen out of fold); the fitted Pipeline lives in MLflow.
"""

import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import mlflow
import pandas as pd
from dagster import AssetExecutionContext, AssetIn, Config, MetadataValue, Output, asset
from pydantic import Field

from churn_assets.constants import OWNERS
from churn_assets.defs.metadata import png, table_md, upstream_data_version
from churn_assets.ml.evaluation import choose_threshold, holdout_metrics, plot_confusion_matrix
from churn_assets.ml.features import SPLIT, FeatureSpec, build_preprocessor
from churn_assets.ml.models import FAMILIES, SearchBudget, train_family
from churn_assets.ml.validation import TARGET
from churn_assets.resources.mlflow_tracking import MlflowResource, log_png
from churn_assets.resources.model_signature import TRUSTED_TYPES, servable_pipeline, table_signature

CODE_VERSION = "1"
ML_PACKAGE = Path(__file__).resolve().parents[1]  # churn_assets/, whose ml/ the models need
# skops loads only the types listed here; no pickle is ever executed when a model is loaded.
SKOPS_TRUSTED_TYPES = [
    "churn_assets.ml.features.EngineeredFeatures",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
]
# Pod sizes per family (production runs each step in its own pod via k8s_job_executor).
POD_RESOURCES = {
    "logistic_regression": ("500m", "1Gi", "1", "2Gi"),
    "random_forest": ("2", "4Gi", "2", "4Gi"),
    "gradient_boosting": ("1", "2Gi", "2", "4Gi"),
    "xgboost": ("2", "4Gi", "2", "4Gi"),
}


class TrainingConfig(Config):
    """Search budget and threshold objective of one family's training."""

    n_iter: int = Field(8, ge=1, description="Randomized-search trials.")
    cv_folds: int = Field(5, ge=2, description="Stratified folds of the cross-validation.")
    random_state: int = Field(42, description="Seed of folds, search and estimators.")
    threshold_objective: str = Field("f1", description="'f1' or 'cost'.")
    cost_false_negative: float = Field(5.0, gt=0, description="Cost of missing a churner.")
    cost_false_positive: float = Field(1.0, gt=0, description="Cost of a retention offer.")


@cache
def git_sha() -> str:
    """The commit the code runs from (CHURN_GIT_SHA in images, else git), or 'unknown'."""
    if os.environ.get("CHURN_GIT_SHA"):
        return os.environ["CHURN_GIT_SHA"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def split_xy(features: pd.DataFrame, side: str) -> tuple[pd.DataFrame, pd.Series, FeatureSpec]:
    """The raw model inputs and target of one split, and the feature spec stored with them."""
    if "feature_spec" not in features.attrs:
        raise ValueError("the features table carries no feature_spec; rematerialize `features`")
    fspec = FeatureSpec.from_dict(features.attrs["feature_spec"])
    rows = features[features[SPLIT] == side]
    return rows[fspec.inputs], rows[TARGET].astype(int), fspec


def run_tags(context: AssetExecutionContext, data_version: str) -> dict[str, str]:
    return {
        "dagster_run_id": context.run.run_id,
        "dagster_asset_key": context.asset_key.to_user_string(),
        "data_version": data_version,
        "code_version": CODE_VERSION,
        "git_sha": git_sha(),
    }


@cache
def model_requirements() -> list[str]:
    """Pinned requirements of a logged model, listed rather than inferred: MLflow's inference
    imports the model in a subprocess on every log, seconds per model."""
    from importlib.metadata import version

    packages = ["mlflow", "scikit-learn", "xgboost", "skops", "pandas", "numpy", "scipy"]
    return [f"{name}=={version(name)}" for name in packages]


def log_pipeline(pipeline, X: pd.DataFrame, name: str = "model"):
    """Log the fitted Pipeline as an MLflow model over the raw columns (skops, predict_proba).

    The model carries `churn_assets/ml` as code, so it loads (its EngineeredFeatures step
    included) wherever MLflow runs, without installing this project."""
    pipeline = servable_pipeline(pipeline, X)  # accepts int and float columns alike
    example = X.head(5)
    signature = table_signature(pipeline, example)
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "churn_assets"
        shutil.copytree(
            ML_PACKAGE / "ml", code / "ml", ignore=shutil.ignore_patterns("__pycache__")
        )
        (code / "__init__.py").write_text("")
        return mlflow.sklearn.log_model(
            pipeline,
            name=name,
            signature=signature,
            input_example=example,
            serialization_format="skops",
            skops_trusted_types=[*SKOPS_TRUSTED_TYPES, *TRUSTED_TYPES],
            pyfunc_predict_fn="predict_proba",
            pip_requirements=model_requirements(),
            code_paths=[str(code)],
        )


def train_and_log(
    context: AssetExecutionContext,
    family: str,
    config: TrainingConfig,
    mlflow_resource: MlflowResource,
    features: pd.DataFrame,
) -> Output[dict]:
    X_train, y_train, fspec = split_xy(features, "train")
    X_test, y_test, _ = split_xy(features, "test")
    data_version = upstream_data_version(context, "features")
    budget = SearchBudget(
        n_iter=config.n_iter, cv_folds=config.cv_folds, random_state=config.random_state
    )
    result = train_family(family, build_preprocessor(fspec), X_train, y_train, budget)
    threshold, rationale = choose_threshold(
        y_train,
        result.oof_proba,
        objective=config.threshold_objective,
        cost_false_negative=config.cost_false_negative,
        cost_false_positive=config.cost_false_positive,
    )
    proba = result.pipeline.predict_proba(X_test)[:, 1]
    test_metrics = holdout_metrics(y_test, proba, threshold)
    confusion = plot_confusion_matrix(
        y_test, (proba >= threshold).astype(int), f"{family} at threshold {threshold:.3f}"
    )
    for warning in result.warnings:
        context.log.warning(f"{family}: {warning}")
    with mlflow_resource.start_run(family, run_tags(context, data_version)) as run:
        mlflow.log_params({k.removeprefix("model__"): v for k, v in result.best_params.items()})
        mlflow.log_params({"family": family, "n_iter": config.n_iter, "cv_folds": config.cv_folds})
        mlflow.log_metrics(result.cv_metrics)
        mlflow.log_metrics({f"test_{k}": v for k, v in test_metrics.items()})
        mlflow.log_table(result.trials, "search/trials.json")
        mlflow.log_text(rationale, "threshold.txt")
        log_png(confusion, "plots/confusion_matrix.png")
        model_info = log_pipeline(result.pipeline, X_train)
    record = {
        "family": family,
        "mlflow_run_id": run.info.run_id,
        "model_uri": model_info.model_uri,
        "best_params": result.best_params,
        "cv_metrics": result.cv_metrics,
        "test_metrics": test_metrics,
        "threshold": threshold,
        "threshold_rationale": rationale,
        "features": fspec.inputs,
        "data_version": data_version,
        "train_rows": len(X_train),
        "fit_seconds": result.fit_seconds,
        "warnings": result.warnings,
    }
    cv_table = pd.DataFrame(
        [
            {
                "metric": m,
                "cv_mean": result.cv_metrics[f"cv_{m}_mean"],
                "cv_std": result.cv_metrics[f"cv_{m}_std"],
                "holdout": test_metrics.get(m),
            }
            for m in ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "brier")
        ]
    )
    return Output(
        record,
        metadata={
            "mlflow_run_id": run.info.run_id,
            "mlflow_run": mlflow_resource.run_link(run.info.run_id),
            "model_uri": model_info.model_uri,
            "cv_roc_auc": result.cv_metrics["cv_roc_auc_mean"],
            "holdout_roc_auc": test_metrics["roc_auc"],
            "threshold": threshold,
            "threshold_rationale": rationale,
            "metrics": table_md(cv_table),
            "best_params": MetadataValue.json(result.best_params),
            "search_trials": table_md(result.trials.head(10)),
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
        ins={"features": AssetIn(key="features")},
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
        features: pd.DataFrame,
    ) -> Output[dict]:
        """Tune the family by stratified-CV randomized search on the training split, choose the
        threshold out of fold, log the run and model to MLflow. Raises ValueError on a single
        class, MlflowUnavailableError when MLflow cannot be reached."""
        return train_and_log(context, family, config, mlflow_tracking, features)

    return _trained


trained_models = [trained_model_asset(family) for family in FAMILIES]
