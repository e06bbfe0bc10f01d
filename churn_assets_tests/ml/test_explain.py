"""Occlusion reasons: the column that drives a score is named, a baseline value contributes 0."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churn_assets.ml.explain import baseline_values, contributions, top_reasons


@pytest.fixture(scope="module")
def fitted():
    """A logistic regression where `calls` drives churn; `noise` and `plan` barely matter."""
    rng = np.random.default_rng(0)
    n = 2_000
    X = pd.DataFrame(
        {
            "calls": rng.poisson(2.0, n).astype(float),
            "noise": rng.normal(0, 1, n),
            "plan": rng.choice(["basic", "plus"], n),
        }
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-(2.0 * (X["calls"] - 2.0))))).astype(int)
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["calls", "noise"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
                    ]
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(X, y)
    return model, X


def test_baseline_is_median_for_numbers_and_mode_for_categories():
    X = pd.DataFrame({"a": [1.0, 2.0, 10.0, None], "b": ["x", "y", "y", None], "c": [None] * 4})
    base = baseline_values(X)
    assert base["a"] == 2.0 and base["b"] == "y" and np.isnan(base["c"])


def test_top_reason_of_high_score_rows_is_the_driving_column(fitted):
    model, X = fitted
    base = baseline_values(X)
    high = X[model.predict_proba(X)[:, 1] > 0.9].head(50)
    assert len(high) >= 10
    reasons = top_reasons(model, high, base, k=2)
    assert reasons.index.equals(high.index)
    assert reasons.str.startswith("calls=").all()
    first = reasons.iloc[0].split("; ")[0]
    assert first.startswith(f"calls={high['calls'].iloc[0]} (+")


def test_a_column_at_its_baseline_contributes_nothing(fitted):
    model, X = fitted
    base = baseline_values(X)
    rows = X.head(100).copy()
    rows["calls"] = base["calls"]
    rows["plan"] = base["plan"]
    effects = contributions(model, rows, base)
    assert list(effects.columns) == list(X.columns)
    assert np.allclose(effects["calls"], 0.0) and np.allclose(effects["plan"], 0.0)
    assert not np.allclose(effects["noise"], 0.0)


def test_low_score_rows_get_no_reason(fitted):
    model, X = fitted
    base = baseline_values(X)
    at_baseline = X.head(5).assign(calls=0.0)  # fewer calls than typical lowers the score
    reasons = top_reasons(model, at_baseline, base, k=3, min_effect=0.05)
    assert (reasons == "").all()
