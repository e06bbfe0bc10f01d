"""The final fit: a family's tuned parameters refitted on every labeled row."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer

from churn_assets.ml.features import FeatureSpec, build_preprocessor
from churn_assets.ml.models import build_pipeline
from churn_assets.ml.models.refit import refit_all_rows

SPEC = FeatureSpec(numeric=("tenure", "charges"), categorical=("contract",))


def table(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "tenure": rng.uniform(0, 72, n),
            "charges": rng.normal(65, 20, n),
            "contract": rng.choice(["Month-to-month", "One year", "Two year"], n),
        }
    )
    logit = -0.05 * X["tenure"] + 0.02 * (X["charges"] - 65) + (X["contract"] == "Month-to-month")
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))
    return X, y


def scaler_rows(pipeline) -> int:
    # ColumnTransformer fits clones of its steps: the fitted scaler is in `transformers_`.
    [columns] = [
        v for v in pipeline.get_params(deep=True).values() if isinstance(v, ColumnTransformer)
    ]
    return int(columns.named_transformers_["numeric"].named_steps["scale"].n_samples_seen_)


def test_refit_learns_from_every_row_with_the_tuned_parameters():
    X, y = table(300, 0)
    params = {"model__n_estimators": 30, "model__max_depth": 4, "model__max_features": "sqrt"}
    final = refit_all_rows("random_forest", params, build_preprocessor(SPEC), X, y, 7)
    assert scaler_rows(final) == 300
    assert final.named_steps["model"].get_params()["max_depth"] == 4
    assert final.named_steps["model"].random_state == 7
    manual = build_pipeline("random_forest", build_preprocessor(SPEC), y, 7).set_params(**params)
    manual.fit(X, y)
    np.testing.assert_allclose(final.predict_proba(X), manual.predict_proba(X))
    part = refit_all_rows("random_forest", params, build_preprocessor(SPEC), X[:200], y[:200], 7)
    assert scaler_rows(part) == 200
    assert not np.allclose(final.predict_proba(X), part.predict_proba(X))


def test_refit_refuses_what_training_refuses():
    X, y = table(50, 1)
    with pytest.raises(ValueError, match="only one class"):
        refit_all_rows("logistic_regression", {}, build_preprocessor(SPEC), X, y * 0)
    with pytest.raises(ValueError, match="unknown model family 'svm'"):
        refit_all_rows("svm", {}, build_preprocessor(SPEC), X, y)
