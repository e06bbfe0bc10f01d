"""Measured code of the training benchmark; each task runs in a fresh process.

Data comes from `prepare`, which materializes nothing: it runs load_table -> validate ->
build_features once per row count and stores the features table as Parquet (plus the feature
spec as JSON) in a cache folder the other tasks read, so data generation is never timed.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import worker_main

# One fixed, mid-space parameter set per family for the single fits (no search).
SINGLE_FIT_PARAMS: dict[str, dict[str, Any]] = {
    "logistic_regression": {"model__C": 1.0},
    "random_forest": {
        "model__n_estimators": 100,
        "model__max_depth": 10,
        "model__min_samples_leaf": 10,
        "model__max_features": 0.5,
    },
    "gradient_boosting": {
        "model__learning_rate": 0.1,
        "model__max_iter": 150,
        "model__max_leaf_nodes": 31,
        "model__min_samples_leaf": 50,
        "model__l2_regularization": 0.01,
    },
    "xgboost": {
        "model__n_estimators": 250,
        "model__max_depth": 5,
        "model__learning_rate": 0.1,
        "model__subsample": 0.8,
        "model__colsample_bytree": 0.8,
        "model__min_child_weight": 2.0,
        "model__reg_lambda": 1.0,
    },
}


def _paths(cache: str, rows: int) -> tuple[Path, Path]:
    return Path(cache) / f"features_{rows}.parquet", Path(cache) / f"features_{rows}.json"


def prepare(params: dict[str, Any]) -> dict[str, Any]:
    """Build and cache the features table of `rows` synthetic rows."""
    from churn_assets.ml.features import build_features, feature_spec
    from churn_assets.ml.validation import typed_columns, validate
    from churn_assets.resources.dataset import DatasetResource

    table_path, spec_path = _paths(params["cache"], params["rows"])
    dataset = DatasetResource(spec="synthetic", n_rows=params["rows"])
    spec = dataset.load_spec()
    valid = validate(dataset.load_table(spec), spec).valid
    fspec = feature_spec(spec, typed_columns(valid, spec))
    build_features(valid, spec, fspec, spec.id_name).to_parquet(table_path, index=False)
    spec_path.write_text(json.dumps(fspec.to_dict()))
    return {"rows": params["rows"]}


def _load(params: dict[str, Any]):
    """(X_train, y_train, X_test, y_test, feature spec) of the cached table."""
    import pandas as pd

    from churn_assets.ml.features import SPLIT, FeatureSpec
    from churn_assets.ml.validation import TARGET

    table_path, spec_path = _paths(params["cache"], params["rows"])
    table = pd.read_parquet(table_path)
    fspec = FeatureSpec.from_dict(json.loads(spec_path.read_text()))
    train, test = table[table[SPLIT] == "train"], table[table[SPLIT] == "test"]
    return (
        train[fspec.inputs],
        train[TARGET].astype(int),
        test[fspec.inputs],
        test[TARGET].astype(int),
        fspec,
    )


def _budget(params: dict[str, Any]):
    from churn_assets.ml.models import SearchBudget

    return SearchBudget(n_iter=params["n_iter"], cv_folds=params["cv_folds"])


def search(params: dict[str, Any]) -> dict[str, Any]:
    """train_family (randomized search + refit + out-of-fold predictions) for one family."""
    from churn_assets.ml.features import build_preprocessor
    from churn_assets.ml.models import train_family

    X, y, _, _, fspec = _load(params)
    started = time.perf_counter()
    result = train_family(params["family"], build_preprocessor(fspec), X, y, _budget(params))
    return {
        "seconds": time.perf_counter() - started,
        "fit_seconds": result.fit_seconds,
        "train_rows": len(X),
        "fits": params["n_iter"] * params["cv_folds"] + 1 + params["cv_folds"],
        "cv_roc_auc": result.cv_metrics["cv_roc_auc_mean"],
        "best_params": result.best_params,
    }


def single_fit(params: dict[str, Any]) -> dict[str, Any]:
    """One fit of the family's Pipeline with fixed parameters, plus scoring the holdout."""
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    from churn_assets.ml.features import build_preprocessor
    from churn_assets.ml.models import build_pipeline

    X, y, X_test, y_test, fspec = _load(params)
    family = params["family"]
    pipeline = build_pipeline(family, build_preprocessor(fspec), y, 42)
    pipeline.set_params(**SINGLE_FIT_PARAMS[family])
    with threadpool_limits(1):  # as SearchBudget(threads=1) does in train_family
        started = time.perf_counter()
        pipeline.fit(X, y)
        fitted = time.perf_counter()
        proba = pipeline.predict_proba(X_test)[:, 1]
        scored = time.perf_counter()
    return {
        "seconds": fitted - started,
        "predict_seconds": scored - fitted,
        "train_rows": len(X),
        "holdout_roc_auc": roc_auc_score(y_test, proba),
        "params": SINGLE_FIT_PARAMS[family],
    }


def _log_pinned(pipeline, X, requirements) -> None:
    """log_pipeline's call with `pip_requirements` given, so MLflow infers nothing."""
    import mlflow
    from mlflow.models import infer_signature

    from churn_assets.resources.mlflow_models import SKOPS_TRUSTED_TYPES

    example = X.head(5)
    mlflow.sklearn.log_model(
        pipeline,
        name="model",
        signature=infer_signature(example, pipeline.predict_proba(example)),
        input_example=example,
        serialization_format="skops",
        skops_trusted_types=SKOPS_TRUSTED_TYPES,
        pyfunc_predict_fn="predict_proba",
        pip_requirements=requirements,
    )


def _log(result, X, store: Path) -> dict[str, float]:
    """Log as train_and_log does (params, metrics, trials, threshold text, skops model)."""
    import mlflow
    import mlflow.models

    from churn_assets.resources.mlflow_models import log_pipeline
    from churn_assets.resources.mlflow_tracking import MlflowResource

    inferred: dict[str, Any] = {"seconds": 0.0, "requirements": None}
    original = mlflow.models.infer_pip_requirements

    def timed_inference(*args, **kwargs):
        started = time.perf_counter()
        inferred["requirements"] = original(*args, **kwargs)
        inferred["seconds"] += time.perf_counter() - started
        return inferred["requirements"]

    mlflow.models.infer_pip_requirements = timed_inference
    uri = f"sqlite:///{store / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    resource = MlflowResource(tracking_uri=uri, artifact_location=str(store / "artifacts"))
    t0 = time.perf_counter()
    resource.experiment_id()  # a fresh sqlite store: schema migrations + experiment
    t1 = time.perf_counter()
    with resource.start_run(result.family, {"benchmark": "training"}):
        params = {k.removeprefix("model__"): v for k, v in result.best_params.items()}
        mlflow.log_params(params)
        mlflow.log_metrics(result.cv_metrics)
        mlflow.log_table(result.trials, "search/trials.json")
        mlflow.log_text("benchmark", "threshold.txt")
        t2 = time.perf_counter()
        log_pipeline(result.pipeline, X)
        t3 = time.perf_counter()
    t4 = time.perf_counter()
    # The same log_model with the requirements given (no inference subprocess), warm imports.
    with resource.start_run(f"{result.family}-pinned", {"benchmark": "training"}):
        t5 = time.perf_counter()
        _log_pinned(result.pipeline, X, inferred["requirements"])
        t6 = time.perf_counter()
    size = sum(p.stat().st_size for p in (store / "artifacts").rglob("*") if p.is_file())
    return {
        "store_init": t1 - t0,
        "params_metrics_trials": t2 - t1,
        "log_model_skops": t3 - t2,
        "end_run": t4 - t3,
        "of_which_pip_requirements_inference": inferred["seconds"],
        "log_model_with_pip_requirements_given": t6 - t5,
        "per_run": t4 - t1,
        "total": t4 - t0,
        "artifact_mb": size / 2**20,
    }


def mlflow_cost(params: dict[str, Any]) -> dict[str, Any]:
    """train_family, then (when `log`) the MLflow logging of train_and_log, each timed."""
    from churn_assets.ml.features import build_preprocessor
    from churn_assets.ml.models import train_family

    X, y, _, _, fspec = _load(params)
    started = time.perf_counter()
    result = train_family(params["family"], build_preprocessor(fspec), X, y, _budget(params))
    trained = time.perf_counter()
    out: dict[str, Any] = {"train_seconds": trained - started, "train_rows": len(X)}
    if params["log"]:
        with tempfile.TemporaryDirectory(prefix="churn-bench-mlflow-") as store:
            out["log_seconds"] = _log(result, X, Path(store))
    out["seconds"] = time.perf_counter() - started
    return out


def _grid(space: dict[str, list]) -> dict[str, list]:
    return {k: list(v) for k, v in space.items()}


def search_quality(params: dict[str, Any]) -> dict[str, Any]:
    """RandomizedSearchCV (n_iter) or GridSearchCV (a discretised space): best CV ROC AUC, time.

    Both score with the project's SCORING (all eight metrics, as train_family does), use the
    same StratifiedKFold and one thread per fit, and skip the refit (refit=False): only the
    search itself is timed. For the grid, `anytime` is the best AUC found after each candidate
    in the grid's own order, against the summed fit + score time so far.
    """
    import numpy as np
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold
    from threadpoolctl import threadpool_limits

    from churn_assets.ml.features import build_preprocessor
    from churn_assets.ml.models import SCORING, build_pipeline, default_search_space

    X, y, _, _, fspec = _load(params)
    family = params["family"]
    pipeline = build_pipeline(family, build_preprocessor(fspec), y, 42)
    folds = StratifiedKFold(n_splits=params["cv_folds"], shuffle=True, random_state=42)
    common = {"scoring": SCORING, "refit": False, "cv": folds, "n_jobs": 1, "error_score": "raise"}
    if params["kind"] == "random":
        space = default_search_space(family)
        search = RandomizedSearchCV(
            pipeline, space, n_iter=params["n_iter"], random_state=42, **common
        )
    else:
        search = GridSearchCV(pipeline, _grid(params["grid"]), **common)
    with threadpool_limits(1):
        started = time.perf_counter()
        search.fit(X, y)
        seconds = time.perf_counter() - started
    res = search.cv_results_
    auc = np.asarray(res["mean_test_roc_auc"], dtype=float)
    cost = (np.asarray(res["mean_fit_time"]) + np.asarray(res["mean_score_time"])) * params[
        "cv_folds"
    ]
    best = int(np.argmax(auc))
    return {
        "seconds": seconds,
        "candidates": len(auc),
        "best_cv_roc_auc": float(auc[best]),
        "best_params": {k: str(v) for k, v in res["params"][best].items()},
        "train_rows": len(X),
        "anytime": [
            [round(float(s), 2), round(float(a), 5)]
            for s, a in zip(np.cumsum(cost), np.maximum.accumulate(auc), strict=True)
        ],
    }


if __name__ == "__main__":
    worker_main(
        {
            "prepare": prepare,
            "search": search,
            "single_fit": single_fit,
            "mlflow_cost": mlflow_cost,
            "search_quality": search_quality,
        }
    )
