"""`train_family`: a seeded randomized search of one family, its refit and out-of-fold scores."""

from __future__ import annotations

import time
import warnings
from contextlib import nullcontext
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from churn_assets.ml.jsonable import plain
from churn_assets.ml.models.budget import (
    NEGATED_METRICS,
    REFIT_METRIC,
    SCORING,
    SearchBudget,
    TrainResult,
)
from churn_assets.ml.models.fit_checks import (
    check_training_data,
    summarise_warnings,
    unconverged_final_model,
)
from churn_assets.ml.models.trials import trials_table
from churn_assets.ml.models.zoo import build_pipeline, check_family, default_search_space


def train_family(
    family: str,
    preprocessor: BaseEstimator,
    X_train: pd.DataFrame,
    y_train: pd.Series,
    budget: SearchBudget | None = None,
    search_space: dict[str, Any] | None = None,
) -> TrainResult:
    """Tune one family by randomized search, refit the best, and predict out of fold.

    The search runs `budget.n_iter` trials over `StratifiedKFold(budget.cv_folds, shuffle=True,
    random_state=budget.random_state)`, scores every metric in `SCORING` and refits on ROC AUC.
    Out-of-fold probabilities of the best parameters come from `cross_val_predict` on the same
    folds. The same inputs and seed give the same result.

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
    y = check_training_data(X_train, y_train, budget.cv_folds)
    space = default_search_space(family) if search_space is None else search_space
    pipeline = build_pipeline(family, preprocessor, y, budget.random_state)
    folds = StratifiedKFold(
        n_splits=budget.cv_folds, shuffle=True, random_state=budget.random_state
    )
    search = RandomizedSearchCV(
        pipeline,
        space,
        n_iter=budget.n_iter,
        scoring=SCORING,
        refit=REFIT_METRIC,
        cv=folds,
        n_jobs=budget.n_jobs,
        random_state=budget.random_state,
        error_score="raise",
    )
    started = time.perf_counter()
    limits = threadpool_limits(budget.threads) if budget.threads else nullcontext()
    with limits, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X_train, y)
        oof = cross_val_predict(
            clone(pipeline).set_params(**search.best_params_),
            X_train,
            y,
            cv=folds,
            method="predict_proba",
            n_jobs=budget.n_jobs,
        )[:, 1]
    fit_seconds = time.perf_counter() - started

    found = summarise_warnings(caught)
    unconverged = unconverged_final_model(search.best_estimator_)
    # With n_jobs=1 the refit's own warning is already in `found`; add this only if none was seen.
    if unconverged and not found:
        found.append(unconverged)

    best = search.best_index_
    cv_metrics: dict[str, float] = {}
    for metric in SCORING:
        sign = -1.0 if metric in NEGATED_METRICS else 1.0
        cv_metrics[f"cv_{metric}_mean"] = float(
            sign * search.cv_results_[f"mean_test_{metric}"][best]
        )
        cv_metrics[f"cv_{metric}_std"] = float(search.cv_results_[f"std_test_{metric}"][best])

    return TrainResult(
        family=family,
        pipeline=search.best_estimator_,
        best_params={k: plain(v) for k, v in search.best_params_.items()},
        cv_metrics=cv_metrics,
        trials=trials_table(search.cv_results_),
        oof_proba=np.asarray(oof, dtype=float),
        fit_seconds=fit_seconds,
        warnings=found,
        budget=budget,
    )
