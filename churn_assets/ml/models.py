"""The model zoo: four estimator families, their search spaces and a seeded randomized search.

Every trained model is one scikit-learn `Pipeline` of `("preprocess", <preprocessor>)` and
`("model", <estimator>)`, so it takes the raw feature columns and returns churn probabilities.
`train_family` tunes one family with `RandomizedSearchCV` over stratified folds, refits the best
parameters on the whole training split, and also returns out-of-fold probabilities of those
parameters so a decision threshold can be chosen without touching the holdout.

The target must be binary with 0 (stays) and 1 (churns); booleans are accepted.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint, uniform
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import make_scorer, precision_score
from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits
from xgboost import XGBClassifier

FAMILIES = ("logistic_regression", "random_forest", "gradient_boosting", "xgboost")

# Metric name -> scorer. Names match `evaluation.holdout_metrics` so CV and holdout line up.
# Brier and log loss are "neg_" scorers (higher is better); they are reported positive.
SCORING: dict[str, Any] = {
    "roc_auc": "roc_auc",
    "pr_auc": "average_precision",
    "f1": "f1",
    # zero_division=0: a trial that predicts no churner scores 0 instead of warning per fold.
    "precision": make_scorer(precision_score, zero_division=0),
    "recall": "recall",
    "accuracy": "accuracy",
    "brier": "neg_brier_score",
    "log_loss": "neg_log_loss",
}
NEGATED_METRICS = frozenset({"brier", "log_loss"})
REFIT_METRIC = "roc_auc"


@dataclass(frozen=True)
class SearchBudget:
    """How much work the hyperparameter search may do.

    The defaults train the four families on ~5k rows in about two minutes on two cores.
    `n_jobs` is handed to the search and to the out-of-fold predictions (parallel fits).
    `threads` caps the BLAS/OpenMP threads of each fit while training: HistGradientBoosting's
    OpenMP threads busy-wait, and on a machine whose cores are already busy they made fits
    up to 50 times slower; one thread per fit avoids that. None leaves the libraries' defaults.
    """

    n_iter: int = 8
    cv_folds: int = 5
    random_state: int = 42
    n_jobs: int = 1
    threads: int | None = 1

    def __post_init__(self) -> None:
        if self.n_iter < 1:
            raise ValueError(f"SearchBudget.n_iter must be >= 1, got {self.n_iter}")
        if self.cv_folds < 2:
            raise ValueError(f"SearchBudget.cv_folds must be >= 2, got {self.cv_folds}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"SearchBudget.threads must be >= 1 or None, got {self.threads}")


@dataclass
class TrainResult:
    """The outcome of tuning one family.

    Attributes:
        family: one of `FAMILIES`.
        pipeline: the best pipeline, refitted on the whole training split.
        best_params: the winning parameters as plain Python values, keys as in the search space
            (`model__...`), so `pipeline.set_params(**best_params)` reproduces them.
        cv_metrics: `cv_<metric>_mean` and `cv_<metric>_std` of the best trial for every metric
            in `SCORING`; brier and log_loss are positive (lower is better).
        trials: one row per trial: `trial`, `rank`, the parameters, `mean_<metric>`,
            `std_<metric>`, `mean_fit_seconds`.
        oof_proba: out-of-fold churn probabilities of the best parameters, aligned with the
            training rows.
        fit_seconds: wall time of search, refit and out-of-fold predictions.
        warnings: convergence warnings met while fitting (deduplicated, with counts). With
            `n_jobs > 1` the fold fits run in worker processes whose warnings are not seen here;
            the refit runs in-process and the final model is also checked directly.
        budget: the budget used.
    """

    family: str
    pipeline: Pipeline
    best_params: dict[str, Any]
    cv_metrics: dict[str, float]
    trials: pd.DataFrame
    oof_proba: np.ndarray
    fit_seconds: float
    warnings: list[str] = field(default_factory=list)
    budget: SearchBudget = field(default_factory=SearchBudget)


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")


def default_search_space(family: str) -> dict[str, Any]:
    """Return the default hyperparameter distributions of a family.

    Args:
        family: one of `FAMILIES`.

    Returns:
        A dict for `RandomizedSearchCV`: keys prefixed `model__`, values scipy.stats
        distributions or lists. A fresh dict on every call, safe to modify.

    Raises:
        ValueError: if the family is unknown.
    """
    _check_family(family)
    if family == "logistic_regression":
        return {"model__C": loguniform(1e-3, 1e2)}
    if family == "random_forest":
        return {
            "model__n_estimators": randint(100, 251),
            "model__max_depth": [6, 10, 16, None],
            "model__min_samples_leaf": randint(2, 21),
            "model__max_features": [0.3, 0.5, 0.8],
        }
    if family == "gradient_boosting":
        return {
            "model__learning_rate": loguniform(0.02, 0.3),
            "model__max_iter": randint(50, 301),
            "model__max_leaf_nodes": randint(8, 64),
            "model__min_samples_leaf": randint(10, 101),
            "model__l2_regularization": loguniform(1e-4, 10.0),
        }
    return {
        "model__n_estimators": randint(100, 401),
        "model__max_depth": randint(2, 8),
        "model__learning_rate": loguniform(0.02, 0.3),
        "model__subsample": uniform(0.6, 0.4),
        "model__colsample_bytree": uniform(0.6, 0.4),
        "model__min_child_weight": loguniform(0.5, 10.0),
        "model__reg_lambda": loguniform(1e-2, 10.0),
    }


def build_pipeline(
    family: str, preprocessor: BaseEstimator, y_train: pd.Series | np.ndarray, random_state: int
) -> Pipeline:
    """Build an unfitted pipeline `("preprocess", clone(preprocessor)), ("model", estimator)`.

    Imbalance is handled by class weights (`balanced` / `balanced_subsample`) or, for XGBoost,
    by `scale_pos_weight = negatives / positives` of `y_train`. Every random component is seeded
    from `random_state`.

    Args:
        family: one of `FAMILIES`.
        preprocessor: an unfitted transformer of the raw feature columns; it is cloned.
        y_train: the 0/1 training target (only used for XGBoost's `scale_pos_weight`).
        random_state: the seed.

    Returns:
        The unfitted pipeline.

    Raises:
        ValueError: if the family is unknown, or (XGBoost) `y_train` has no positive rows.
    """
    _check_family(family)
    preprocess = clone(preprocessor)
    estimator: BaseEstimator
    if family == "logistic_regression":
        estimator = LogisticRegression(
            class_weight="balanced", solver="lbfgs", max_iter=2000, random_state=random_state
        )
    elif family == "random_forest":
        estimator = RandomForestClassifier(
            class_weight="balanced_subsample", n_jobs=1, random_state=random_state
        )
    elif family == "gradient_boosting":
        estimator = HistGradientBoostingClassifier(
            class_weight="balanced", random_state=random_state
        )
        # HistGradientBoosting refuses sparse input; ask any ColumnTransformer (also one nested
        # in a Pipeline) for dense output.
        dense = {
            k: 0.0
            for k in preprocess.get_params(deep=True)
            if k == "sparse_threshold" or k.endswith("__sparse_threshold")
        }
        preprocess.set_params(**dense)
    else:
        y = np.asarray(y_train)
        positives = int((y == 1).sum())
        negatives = int((y == 0).sum())
        if positives == 0:
            raise ValueError(
                f"y_train has no positive (churn=1) rows ({negatives} negatives); "
                "XGBoost's scale_pos_weight needs at least one"
            )
        estimator = XGBClassifier(
            scale_pos_weight=negatives / positives,
            tree_method="hist",
            eval_metric="logloss",
            n_jobs=1,
            random_state=random_state,
        )
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def _check_training_data(X: pd.DataFrame, y: pd.Series, cv_folds: int) -> pd.Series:
    """Validate the training split and return the target as int 0/1."""
    if len(X) != len(y):
        raise ValueError(f"X_train has {len(X)} rows but y_train has {len(y)}; they must align")
    y = pd.Series(y)
    if y.isna().any():
        raise ValueError(
            f"y_train has {int(y.isna().sum())} missing values; drop or label those rows first"
        )
    counts = Counter(y.tolist())
    labels = set(counts)
    if not labels <= {0, 1}:
        raise ValueError(
            f"y_train must be 0/1 (or bool); found labels {sorted(map(repr, labels))}; "
            "encode the target as 1 = churned, 0 = stayed"
        )
    described = ", ".join(f"class {int(k)}: {v} rows" for k, v in sorted(counts.items()))
    if len(counts) < 2:
        raise ValueError(
            f"y_train has only one class ({described}); a classifier needs both churners (1) "
            "and non-churners (0)"
        )
    minority_label, minority_count = min(counts.items(), key=lambda kv: (kv[1], kv[0]))
    if minority_count < cv_folds:
        raise ValueError(
            f"the minority class {int(minority_label)} has {minority_count} rows, fewer than "
            f"cv_folds={cv_folds} ({described}); lower cv_folds or provide more rows"
        )
    return y.astype(int)


def _plain(value: Any) -> Any:
    """Turn numpy scalars into Python values so the result is JSON-able."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _trials_table(cv_results: dict[str, Any]) -> pd.DataFrame:
    params = pd.DataFrame([{k: _plain(v) for k, v in p.items()} for p in cv_results["params"]])
    for column in params.columns:
        kinds = {type(v) for v in params[column] if v is not None}
        # Mixed types (e.g. "sqrt" and 0.5) cannot be written to Parquet; keep them as text.
        if len(kinds) > 1 and not kinds <= {int, float}:
            params[column] = params[column].map(lambda v: None if v is None else str(v))
    table = pd.DataFrame(
        {
            "trial": np.arange(len(params)),
            "rank": np.asarray(cv_results[f"rank_test_{REFIT_METRIC}"], dtype=int),
        }
    )
    table = pd.concat([table, params], axis=1)
    for metric in SCORING:
        sign = -1.0 if metric in NEGATED_METRICS else 1.0
        table[f"mean_{metric}"] = sign * np.asarray(cv_results[f"mean_test_{metric}"], float)
        table[f"std_{metric}"] = np.asarray(cv_results[f"std_test_{metric}"], dtype=float)
    table["mean_fit_seconds"] = np.asarray(cv_results["mean_fit_time"], dtype=float)
    return table


def _summarise_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Keep convergence warnings (deduplicated, counted); re-emit any other warning once."""
    convergence: Counter[str] = Counter()
    others: dict[tuple[type, str], warnings.WarningMessage] = {}
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            convergence[" ".join(str(w.message).split())] += 1
        else:
            others.setdefault((w.category, str(w.message)), w)
    for w in others.values():
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return [
        f"ConvergenceWarning ({n} fit{'s' if n > 1 else ''}): {message}"
        for message, n in convergence.items()
    ]


def _unconverged_final_model(pipeline: Pipeline) -> str | None:
    """Check the refitted model directly: warnings raised in worker processes are not seen."""
    model = pipeline.named_steps["model"]
    n_iter = getattr(model, "n_iter_", None)
    if isinstance(model, LogisticRegression) and n_iter is not None:
        if int(np.max(n_iter)) >= model.max_iter:
            return (
                f"the refitted LogisticRegression stopped at max_iter={model.max_iter} without "
                "converging; scale the features or raise max_iter"
            )
    return None


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
    _check_family(family)
    y = _check_training_data(X_train, y_train, budget.cv_folds)
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

    found = _summarise_warnings(caught)
    unconverged = _unconverged_final_model(search.best_estimator_)
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
        best_params={k: _plain(v) for k, v in search.best_params_.items()},
        cv_metrics=cv_metrics,
        trials=_trials_table(search.cv_results_),
        oof_proba=np.asarray(oof, dtype=float),
        fit_seconds=fit_seconds,
        warnings=found,
        budget=budget,
    )
