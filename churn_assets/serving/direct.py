"""The estimator's churn probability by its cheapest exact call (the compiled path's last step).

`predict_proba` of scikit-learn and XGBoost re-validates its input on every call, XGBoost's
also enters a config context and stacks both classes; for one row that is a large share of the
time. For the families training makes, the same numbers come from the call `predict_proba`
itself ends in, on the matrix the compiled path has already laid out (float64, C order, the
estimator's width):

- XGBoost (`binary:logistic`): `Booster.inplace_predict` with the estimator's `missing` and
  iteration range (the best iteration when it was early-stopped);
- logistic regression (binary): `expit(X @ coef_.T + intercept_)`;
- random forest (one binary output): each tree's `predict_proba(check_input=False)` on the
  float32 copy scikit-learn makes, summed in tree order and averaged;
- anything else (HistGradientBoosting included): `predict_proba(X)[:, 1]`.

The serving tests check each against the Pipeline's `predict_proba` to 1e-9.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

Proba = Callable[[np.ndarray], np.ndarray]


def _xgboost(estimator, width: int) -> Proba | None:
    try:
        from xgboost import XGBClassifier
    except ImportError:  # no xgboost installed: no XGBoost model either
        return None
    if not isinstance(estimator, XGBClassifier) or estimator.objective != "binary:logistic":
        return None
    booster = estimator.get_booster()
    if booster.num_features() != width or getattr(estimator, "booster", None) == "gblinear":
        return None
    try:  # what XGBModel.predict uses: the best iteration of an early-stopped fit
        rounds = (0, int(estimator.best_iteration) + 1)
    except AttributeError:
        rounds = (0, 0)
    missing = estimator.missing

    def proba(matrix: np.ndarray) -> np.ndarray:
        return booster.inplace_predict(
            matrix, iteration_range=rounds, missing=missing, validate_features=False
        )

    return proba


def _logistic(estimator, width: int) -> Proba | None:
    if type(estimator) is not LogisticRegression or len(estimator.classes_) != 2:
        return None
    if estimator.coef_.shape != (1, width):
        return None
    coef_t, intercept = estimator.coef_.T, estimator.intercept_

    def proba(matrix: np.ndarray) -> np.ndarray:
        return expit((matrix @ coef_t + intercept).reshape(-1))

    return proba


def _forest(estimator, width: int) -> Proba | None:
    if type(estimator) is not RandomForestClassifier or estimator.n_outputs_ != 1:
        return None
    if len(estimator.classes_) != 2 or estimator.n_features_in_ != width:
        return None
    trees = list(estimator.estimators_)

    def proba(matrix: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(matrix, dtype=np.float32)
        total = np.zeros((len(x), 2))
        for tree in trees:
            total += tree.predict_proba(x, check_input=False)
        total /= len(trees)
        return total[:, 1]

    return proba


def direct_proba(estimator, width: int) -> tuple[Proba, str]:
    """(matrix -> churn probabilities, which call it is) for a fitted binary classifier."""
    for make, name in (
        (_xgboost, "Booster.inplace_predict"),
        (_logistic, "X @ coef_ + intercept_, expit"),
        (_forest, "trees' predict_proba, averaged"),
    ):
        found = make(estimator, width)
        if found is not None:
            return found, name

    def proba(matrix: np.ndarray) -> np.ndarray:
        return estimator.predict_proba(matrix)[:, 1]

    return proba, "predict_proba"
