"""`train_family`: successive halving over rows for one family, its refit and out-of-fold scores."""

from __future__ import annotations

import time
import warnings
from contextlib import nullcontext
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401 - enables the import below
from sklearn.model_selection import HalvingRandomSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from churn_assets.ml.jsonable import plain
from churn_assets.ml.models.budget import (
    FOLD_METRICS,
    REFIT_METRIC,
    SearchBudget,
    SearchPlan,
    TrainResult,
)
from churn_assets.ml.models.calibration import choose_calibration, with_calibrator
from churn_assets.ml.models.fit_checks import (
    check_training_data,
    summarise_warnings,
    unconverged_final_model,
)
from churn_assets.ml.models.trials import rungs_table, trials_table
from churn_assets.ml.models.zoo import (
    EARLY_STOPPING_ROUNDS,
    MAX_BOOSTING_ROUNDS,
    build_pipeline,
    check_family,
    default_search_space,
    inner_split,
    search_estimator,
    trees_used,
)


def train_family(
    family: str,
    preprocessor: BaseEstimator,
    X_train: pd.DataFrame,
    y_train: pd.Series,
    budget: SearchBudget | None = None,
    search_space: dict[str, Any] | None = None,
) -> TrainResult:
    """Tune one family by successive halving over rows, refit the best, predict out of fold.

    `HalvingRandomSearchCV` draws `budget.n_iter` seeded candidates, scores them on ROC AUC over
    `StratifiedKFold(budget.cv_folds, shuffle=True, random_state=budget.random_state)` on a few
    rows, and keeps the best third on three times the rows, up to `budget.plan(rows).search_rows`
    (a larger table is searched on a seeded stratified sample of that many rows). The best
    candidate of the last rung is then fitted on the same folds of all training rows
    (out-of-fold probabilities) and refitted on all training rows. Its out-of-fold scores choose
    and fit a calibration map (`calibration.choose_calibration`, unless `budget.calibration` is
    "none"); the refit applies it (a `CalibratedPipeline`) and so do the returned out-of-fold
    scores (a monotone map: a threshold chosen on them is a cut of the raw scores, in the served
    model's units). Per fold, `cv_metrics` reads ROC AUC and PR AUC from the raw scores and the
    others from the calibrated ones (`_cv_evidence`). The same inputs and seed give the same
    result.

    Args:
        family: one of `FAMILIES`.
        preprocessor: an unfitted transformer of the raw columns (cloned, never fitted in place).
        X_train: raw feature columns of the training split.
        y_train: the 0/1 (or bool) churn target, aligned with `X_train`.
        budget: search budget; `SearchBudget()` when omitted.
        search_space: parameter distributions (`model__` keys); `default_search_space(family)`
            when omitted.

    Returns:
        A `TrainResult`.

    Raises:
        ValueError: unknown family; X and y of different lengths; missing or non-0/1 labels; only
            one class; a minority class with fewer rows than `cv_folds`.
    """
    budget = budget or SearchBudget()
    check_family(family)
    y = check_training_data(X_train, y_train, budget.cv_folds).reset_index(drop=True)
    X = renumbered(X_train)
    space = default_search_space(family) if search_space is None else search_space
    plan = budget.plan(len(X))
    final = build_pipeline(family, preprocessor, y, budget.random_state)
    fixed = _refit_settings(family, plan, space)
    searching = search_estimator(family, final, budget.search_trees)
    folds = StratifiedKFold(
        n_splits=budget.cv_folds, shuffle=True, random_state=budget.random_state
    )
    search = HalvingRandomSearchCV(
        searching,
        space,
        n_candidates=budget.n_iter,
        factor=budget.factor,
        resource="n_samples",
        min_resources=_min_rows(family, plan.search_rows),
        scoring=REFIT_METRIC,
        refit=False,
        cv=folds,
        n_jobs=budget.n_jobs,
        random_state=budget.random_state,
        error_score="raise",
    )
    # A table larger than the search sample: the search sees only the sample (workers get small
    # copies), and the full-size fold fits and refit run one at a time in this process, each on
    # `n_jobs` threads, instead of `n_jobs` processes each holding a copy of the table.
    large = plan.search_rows < plan.rows
    X_search, y_search = _sample(X, y, plan.search_rows, budget.random_state)
    limits = threadpool_limits(budget.threads) if budget.threads else nullcontext()
    # Threads for a fit that runs alone; on a small table one (OpenMP threads busy-wait on a
    # loaded machine and the fit is short).
    threads = max(budget.threads or 1, budget.n_jobs) if large else (budget.threads or 1)
    started = time.perf_counter()
    with limits, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X_search, y_search)
        searched = time.perf_counter()
        best = {k: plain(v) for k, v in search.best_params_.items()}
        oof_estimator = search_estimator(family, final, budget.search_trees)
        oof_estimator.set_params(**best, **fixed, **_n_jobs(family, threads))
        with threadpool_limits(threads) if budget.threads else nullcontext():
            raw, _, oof_trees = out_of_fold(
                oof_estimator, X, y, folds, 1 if large else budget.n_jobs
            )
        # The map from scores to probabilities, chosen and fitted on the out-of-fold scores.
        calibration = choose_calibration(raw, y.to_numpy(), budget.calibration, budget.random_state)
        mapped = calibration.calibrator
        oof = raw if mapped is None else mapped.transform(raw)
        per_fold = _cv_evidence(y, raw, calibration.scores, list(folds.split(X, y)))
        predicted = time.perf_counter()
        pipeline = clone(final).set_params(**best, **fixed, **_n_jobs(family, threads))
        with threadpool_limits(threads) if budget.threads else nullcontext():
            pipeline = _refit(family, pipeline, X, y, budget.random_state)
        pipeline = with_calibrator(pipeline, calibration.calibrator)
    finished = time.perf_counter()

    found = summarise_warnings(caught)
    unconverged = unconverged_final_model(pipeline)
    # With n_jobs=1 the refit's own warning is already in `found`; add this only if none was seen.
    if unconverged and not found:
        found.append(unconverged)

    model = pipeline.named_steps["model"]
    refit_params = dict(fixed)
    if family == "xgboost":
        refit_params["model__n_estimators"] = int(model.n_estimators)
    trials = trials_table(search.cv_results_, budget.cv_folds)
    return TrainResult(
        family=family,
        pipeline=pipeline,
        best_params={**best, **{k: plain(v) for k, v in refit_params.items()}},
        cv_metrics=_cv_metrics(per_fold),
        trials=trials,
        oof_proba=oof,
        calibration=calibration.record(),
        fit_seconds=finished - started,
        warnings=found,
        budget=budget,
        rungs=rungs_table(trials),
        trees=trees_used(model),
        oof_trees=oof_trees,
        search_seconds=searched - started,
        oof_seconds=predicted - searched,
        refit_seconds=finished - predicted,
    )


# Families searched on every search row in one rung: their fits are cheap, so halving saves
# little, and small rungs favour strong regularisation (issue 12: LR kept C = 0.075 from a
# 1,065-row rung of 3,200 rows and lost 0.002 test AUC to an untuned LR).
ONE_RUNG = frozenset({"logistic_regression"})


def _min_rows(family: str, search_rows: int) -> int | str:
    """Rows of the first halving rung: all search rows for `ONE_RUNG`, else as many as let the
    last rung use them all ("exhaust")."""
    return search_rows if family in ONE_RUNG else "exhaust"


def renumbered(X: pd.DataFrame) -> pd.DataFrame:
    """`X` with the index 0..n-1, sharing `X`'s columns: `reset_index(drop=True)` copies the
    whole table (450 MiB at 4M training rows), held for the whole training of a family."""
    out = X.copy(deep=False)
    out.index = pd.RangeIndex(len(out))
    return out


def _sample(X: pd.DataFrame, y: pd.Series, rows: int, seed: int):
    """A seeded stratified sample of `rows` rows (all of them when there are no more)."""
    if rows >= len(X):
        return X, y
    X_s, _, y_s, _ = train_test_split(X, y, train_size=rows, stratify=y, random_state=seed)
    return X_s.reset_index(drop=True), y_s.reset_index(drop=True)


def _refit_settings(family: str, plan: SearchPlan, space: dict[str, Any]) -> dict[str, Any]:
    """The forest's size out of fold and in the refit (unless the search space tunes it)."""
    if family != "random_forest":
        return {}
    fixed = {
        "model__n_estimators": plan.forest_trees,
        "model__max_samples": plan.forest_max_samples,
    }
    return {k: v for k, v in fixed.items() if k not in space}


def _n_jobs(family: str, n_jobs: int) -> dict[str, Any]:
    """Threads of a fit that runs alone (the refit; large tables' fold fits); the refitted
    model is set back to 1 after fitting."""
    return {"model__n_jobs": n_jobs} if family in ("random_forest", "xgboost") else {}


def _refit(family: str, pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, seed: int) -> Pipeline:
    """Fit on all training rows; XGBoost stops early on a seeded inner split of them, then
    records the rounds it kept as `n_estimators` (it predicts with exactly those)."""
    model = pipeline.named_steps["model"]
    if family == "xgboost":
        cap = int(model.get_params()["n_estimators"] or MAX_BOOSTING_ROUNDS)
        model.set_params(n_estimators=cap, early_stopping_rounds=EARLY_STOPPING_ROUNDS)
        X_fit, X_val, y_fit, y_val = inner_split(X, y, seed)
        # The pipeline fits its own clone of this preprocessor on the same rows: same transform.
        pre = clone(pipeline.named_steps["preprocess"]).fit(X_fit, y_fit)
        pipeline.fit(
            X_fit, y_fit, model__eval_set=[(pre.transform(X_val), y_val)], model__verbose=False
        )
        model.set_params(n_estimators=trees_used(model), early_stopping_rounds=None)
    else:
        pipeline.fit(X, y)
    if family in ("random_forest", "xgboost"):
        model.set_params(n_jobs=1)  # the logged model scores with one thread, as before
    return pipeline


def _fold_fit(estimator, X: pd.DataFrame, y: pd.Series, train: np.ndarray, test: np.ndarray):
    model = clone(estimator).fit(X.iloc[train], y.iloc[train])
    return model.predict_proba(X.iloc[test])[:, 1], trees_used(model.named_steps["model"])


def out_of_fold(
    estimator: Pipeline, X: pd.DataFrame, y: pd.Series, folds: StratifiedKFold, n_jobs: int
) -> tuple[np.ndarray, dict[str, list[float]], list[int | None]]:
    """Fit `estimator` on each fold's training rows and predict its held-out rows.

    Returns the out-of-fold churn probabilities (aligned with `X`), every metric of
    `FOLD_METRICS` per fold, and the trees each fold's model used.
    """
    splits = list(folds.split(X, y))
    fitted = Parallel(n_jobs=n_jobs)(
        delayed(_fold_fit)(estimator, X, y, train, test) for train, test in splits
    )
    oof = np.empty(len(y), dtype=float)
    for (_, test), (proba, _) in zip(splits, fitted, strict=True):
        oof[test] = proba
    return oof, fold_metrics(y, oof, splits), [trees for _, trees in fitted]


def fold_metrics(y: pd.Series, oof: np.ndarray, splits) -> dict[str, list[float]]:
    """Every metric of `FOLD_METRICS` of the out-of-fold scores `oof`, per fold of `splits`."""
    per_fold: dict[str, list[float]] = {m: [] for m in FOLD_METRICS}
    for _, test in splits:
        for metric, score in FOLD_METRICS.items():
            per_fold[metric].append(float(score(y.iloc[test].to_numpy(), oof[test])))
    return per_fold


# Metrics of the order of the scores: the map keeps it, so they are read from the raw
# out-of-fold scores. The cross-fitted calibrated scores come from one map per calibration fold,
# and those folds are not the training folds, so within a training fold they mix maps and
# reorder rows (the BigML forest's pooled ROC AUC fell by 0.012); that is not the served order.
RANK_METRICS = frozenset({"roc_auc", "pr_auc"})


def _cv_evidence(y: pd.Series, raw: np.ndarray, calibrated: np.ndarray, splits):
    """Per-fold metrics: ranking metrics of the raw scores, the others (probabilities, labels
    at 0.5) of the calibrated scores, each mapped by a map not fitted on it."""
    by_rank, by_value = fold_metrics(y, raw, splits), fold_metrics(y, calibrated, splits)
    return {m: (by_rank if m in RANK_METRICS else by_value)[m] for m in by_rank}


def _cv_metrics(per_fold: dict[str, list[float]]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for metric, scores in per_fold.items():
        metrics[f"cv_{metric}_mean"] = float(np.mean(scores))
        metrics[f"cv_{metric}_std"] = float(np.std(scores))
    return metrics
