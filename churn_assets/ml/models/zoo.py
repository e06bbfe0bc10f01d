"""The four estimator families, their default search spaces and their unfitted pipelines."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint, uniform
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

FAMILIES = ("logistic_regression", "random_forest", "gradient_boosting", "xgboost")


def check_family(family: str) -> None:
    """Raise ValueError unless `family` is one of `FAMILIES`."""
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
    check_family(family)
    if family == "logistic_regression":
        return {"model__C": loguniform(1e-3, 1e2)}
    if family == "random_forest":
        # scikit-learn's defaults (deep unpruned trees, leaves of 1, sqrt features) are in the
        # space: on the BigML telecom table they beat every shallow, pruned forest (issue 12).
        return {
            "model__n_estimators": [200, 300, 500],
            "model__max_depth": [None, 24, 12, 8],
            "model__min_samples_leaf": [1, 2, 4, 8, 16],
            "model__max_features": ["sqrt", 0.2, 0.35, 0.5, 0.8],
        }
    if family == "gradient_boosting":
        return {
            "model__learning_rate": loguniform(0.02, 0.3),
            "model__max_iter": randint(50, 301),
            "model__max_leaf_nodes": randint(8, 64),
            "model__min_samples_leaf": randint(5, 101),  # the default, 20, inside
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
    check_family(family)
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
