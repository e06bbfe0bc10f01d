"""Occlusion reasons: the column that drives a score is named, a baseline value contributes 0."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churn_assets.ml.explain import baseline_values, contributions, effect_text, top_reasons


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


def _one_predict_per_column(model, X, baseline):
    """The implementation before stacking: one predict_proba per column over every row."""
    proba = model.predict_proba(X)[:, 1]
    out = pd.DataFrame(index=X.index, columns=list(X.columns), dtype=float)
    for col in X.columns:
        occluded = X.copy()
        occluded[col] = baseline[col]
        out[col] = proba - model.predict_proba(occluded)[:, 1]
    return out


@pytest.fixture(scope="module")
def project_model():
    """The project's own Pipeline (engineered features, imputing, one-hot) on synthetic rows,
    with missing cells and int columns, as batch scoring sees it."""
    from churn_assets.ml.features import build_preprocessor, feature_spec
    from churn_assets.ml.spec import load_spec
    from churn_assets.ml.synthetic import generate_synthetic
    from churn_assets.ml.validation import TARGET, typed_columns, validate

    spec = load_spec("synthetic")
    valid = validate(generate_synthetic(3_000, seed=5, fault_rate=0.05), spec).valid
    fspec = feature_spec(spec, typed_columns(valid, spec))
    X = valid[fspec.inputs]
    model = Pipeline(
        [("prep", build_preprocessor(fspec)), ("model", LogisticRegression(max_iter=500))]
    ).fit(X, valid[TARGET])
    return model, X


def test_stacked_occlusion_equals_one_predict_per_column(project_model):
    model, X = project_model
    base = baseline_values(X)
    sample = X.sample(400, random_state=1)
    sample = sample.assign(tenure=sample["tenure"].round().astype("int64"))  # ints as users send
    expected = _one_predict_per_column(model, sample, base)
    got = contributions(model, sample, base, chunk_rows=97)  # several chunks, a ragged last one
    assert got.index.equals(sample.index) and list(got.columns) == list(sample.columns)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)
    assert (got.to_numpy() != 0).any(axis=0).sum() >= len(X.columns) - 2


def test_top_reasons_are_the_same_as_before(project_model):
    model, X = project_model
    base = baseline_values(X)
    sample = X.sample(300, random_state=2)
    effects = _one_predict_per_column(model, sample, base).to_numpy()
    order = np.argsort(-effects, axis=1)[:, :3]
    cells = sample.to_numpy(dtype=object)
    expected = [
        "; ".join(
            f"{sample.columns[j]}={cells[i, j]} ({effects[i, j]:+.3f})"
            for j in picks
            if effects[i, j] >= 0.005
        )
        for i, picks in enumerate(order)
    ]
    proba = model.predict_proba(sample)[:, 1]
    assert top_reasons(model, sample, base, k=3).tolist() == expected
    assert top_reasons(model, sample, base, k=3, proba=proba).tolist() == expected
    assert any(expected) and not all(expected)


def test_a_missing_cell_is_occluded_and_cells_at_baseline_are_not_rescored(project_model):
    model, X = project_model
    base = baseline_values(X)
    rows = X.head(20).copy()
    rows.loc[rows.index[0], "contract"] = None
    rows["gender"] = base["gender"]
    calls = []

    class Counting:
        def predict_proba(self, frame):
            calls.append(len(frame))
            return model.predict_proba(frame)

    effects = contributions(Counting(), rows, base)
    assert (effects["gender"] == 0.0).all()
    assert effects.loc[rows.index[0], "contract"] != 0.0
    # one predict for the rows, one for the stacked copies; no copy for the gender column
    assert len(calls) == 2 and calls[1] < len(rows) * (len(rows.columns) - 1)


def test_effect_text_is_the_f_string_of_every_value():
    rng = np.random.default_rng(1)
    ties = (np.arange(2_000) + 0.5) / 1000  # halfway between thousandths, as floats round them
    values = np.concatenate(
        [
            rng.uniform(-1, 2, 20_000),
            rng.uniform(0, 0.01, 5_000),
            ties,
            [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.0004999, 0.0005, 999.9995, 1e6],
        ]
    )
    values = np.concatenate([values, np.nextafter(values, np.inf), np.nextafter(values, -np.inf)])
    assert effect_text(values).tolist() == [f"({v:+.3f})" for v in values.tolist()]
