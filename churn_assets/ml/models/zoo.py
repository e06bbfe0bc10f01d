"""The four estimator families, their default search spaces and their unfitted pipelines.

The boosters' tree counts are not searched: HistGradientBoosting stops early on its own inner
validation split, and XGBoost does in the search through `EarlyStoppingXGBClassifier` (never
logged; the final model is a plain `XGBClassifier`). The forest's tree count is set by the
budget: few while searching, more in the refit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint, uniform
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

FAMILIES = ("logistic_regression", "random_forest", "gradient_boosting", "xgboost")
# Boosters: at most this many rounds; early stopping after this many without improvement on an
# inner validation split of this share of the rows.
MAX_BOOSTING_ROUNDS = 500
EARLY_STOPPING_ROUNDS = 10
VALIDATION_FRACTION = 0.1


def check_family(family: str) -> None:
    """Raise ValueError unless `family` is one of `FAMILIES`."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")


def default_search_space(family: str) -> dict[str, Any]:
    """Return the default hyperparameter distributions of a family.

    Logistic regression also searches its class weighting, balanced or none, picked by the
    same out-of-fold ROC AUC as `C` (issue 12): unweighted LR is fitted by plain maximum
    likelihood, so its probabilities are calibrated, and on the synthetic `logistic` table it
    ranks better too. The tree families keep balanced weights: searched there as well, the
    choice lowered the champion's test AUC on 4 of 5 outer splits of the pooled BigML table
    (mean -0.006; README "Model quality"), a selection among more candidates on the same
    3-fold evidence. A `search_space` may still search them (`model__class_weight`, XGBoost's
    `model__scale_pos_weight`).

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
        return {"model__C": loguniform(1e-3, 1e2), "model__class_weight": ["balanced", None]}
    if family == "random_forest":
        # scikit-learn's defaults (deep unpruned trees, leaves of 1, sqrt features) are in the
        # space: on the BigML telecom table they beat every shallow, pruned forest (issue 12).
        return {
            # The trees are the budget's, not searched: `search_trees` while searching,
            # `refit_trees` out of fold and in the refit (more trees never hurt a forest).
            "model__max_depth": [None, 24, 12, 8],
            "model__min_samples_leaf": [1, 2, 4, 8, 16],
            "model__max_features": ["sqrt", 0.2, 0.35, 0.5, 0.8],
        }
    if family == "gradient_boosting":
        return {
            # Early stopping decides the rounds; rates below 0.05 only made them many.
            "model__learning_rate": loguniform(0.05, 0.3),
            "model__max_leaf_nodes": randint(8, 64),
            "model__min_samples_leaf": randint(5, 101),  # the default, 20, inside
            "model__l2_regularization": loguniform(1e-4, 10.0),
        }
    return {
        "model__max_depth": randint(2, 8),
        "model__learning_rate": loguniform(0.05, 0.3),
        "model__subsample": uniform(0.6, 0.4),
        "model__colsample_bytree": uniform(0.6, 0.4),
        "model__min_child_weight": loguniform(0.5, 10.0),
        "model__reg_lambda": loguniform(1e-2, 10.0),
    }


def balanced_pos_weight(y_train: pd.Series | np.ndarray) -> float:
    """XGBoost's balanced `scale_pos_weight`: negatives / positives of the 0/1 `y_train`.

    Raises:
        ValueError: if `y_train` has no positive rows.
    """
    y = np.asarray(y_train)
    positives = int((y == 1).sum())
    negatives = int((y == 0).sum())
    if positives == 0:
        raise ValueError(
            f"y_train has no positive (churn=1) rows ({negatives} negatives); "
            "XGBoost's scale_pos_weight needs at least one"
        )
    return negatives / positives


def build_pipeline(
    family: str, preprocessor: BaseEstimator, y_train: pd.Series | np.ndarray, random_state: int
) -> Pipeline:
    """Build an unfitted pipeline `("preprocess", clone(preprocessor)), ("model", estimator)`.

    Class weights start balanced (`balanced` / `balanced_subsample`; XGBoost's
    `scale_pos_weight = negatives / positives` of `y_train`); LR's default search space may turn
    them off. Every random component is seeded from `random_state`.

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
        # Early stopping on a seeded 10% inner split decides the number of trees (max_iter is a
        # cap), in the search and in the refit alike.
        estimator = HistGradientBoostingClassifier(
            class_weight="balanced",
            early_stopping=True,
            max_iter=MAX_BOOSTING_ROUNDS,
            validation_fraction=VALIDATION_FRACTION,
            n_iter_no_change=EARLY_STOPPING_ROUNDS,
            random_state=random_state,
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
        estimator = XGBClassifier(
            scale_pos_weight=balanced_pos_weight(y_train),
            tree_method="hist",
            eval_metric="logloss",
            n_jobs=1,
            random_state=random_state,
        )
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def trees_used(model: BaseEstimator) -> int | None:
    """Trees (boosting rounds) a fitted model predicts with; None for the other families."""
    if isinstance(model, HistGradientBoostingClassifier):
        return int(model.n_iter_)
    if isinstance(model, XGBClassifier):
        try:
            return int(model.best_iteration) + 1
        except AttributeError:  # fitted without early stopping: every round counts
            return int(model.get_booster().num_boosted_rounds())
    if isinstance(model, RandomForestClassifier):
        return len(model.estimators_)
    return None


def inner_split(X, y, random_state: int | None):
    """A seeded stratified split (fit rows, validation rows) for early stopping."""
    return train_test_split(
        X, y, test_size=VALIDATION_FRACTION, stratify=y, random_state=random_state
    )


class EarlyStoppingXGBClassifier(XGBClassifier):
    """XGBClassifier that holds out a seeded stratified share of its rows and stops adding trees
    when log loss on it has not improved for `early_stopping_rounds` rounds.

    Used only while searching and predicting out of fold, where scikit-learn's cross-validation
    has no way to pass an `eval_set`; the refit and the logged model are plain `XGBClassifier`s.
    """

    def __init__(self, *, validation_fraction: float = VALIDATION_FRACTION, **kwargs: Any):
        super().__init__(**kwargs)
        self.validation_fraction = validation_fraction

    def get_xgb_params(self) -> dict[str, Any]:
        """Booster parameters: XGBClassifier's, without this wrapper's own."""
        params = super().get_xgb_params()
        params.pop("validation_fraction", None)
        return params

    def fit(self, X, y, **fit_params):  # noqa: D102 - XGBClassifier.fit with an inner split
        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=self.validation_fraction, stratify=y, random_state=self.random_state
        )
        return super().fit(X_fit, y_fit, eval_set=[(X_val, y_val)], verbose=False, **fit_params)


def search_estimator(family: str, pipeline: Pipeline, trees: int) -> Pipeline:
    """The pipeline a search and the out-of-fold predictions fit: the forest with `trees` trees,
    XGBoost early-stopped on an inner split (at most `MAX_BOOSTING_ROUNDS`); others unchanged."""
    pipeline = clone(pipeline)
    if family == "random_forest":
        pipeline.set_params(model__n_estimators=trees)
    elif family == "xgboost":
        params = pipeline.named_steps["model"].get_params()
        params.update(n_estimators=MAX_BOOSTING_ROUNDS, early_stopping_rounds=EARLY_STOPPING_ROUNDS)
        pipeline.set_params(model=EarlyStoppingXGBClassifier(**params))
    return pipeline
