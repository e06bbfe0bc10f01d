"""Occlusion in the design matrix gives the generic occlusion's numbers, for every family."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    StandardScaler,
)

from churn_assets.ml.explain import baseline_values, contributions
from churn_assets.ml.explain_design import column_wise, design_of
from churn_assets.ml.scoring import REASONS, SCORE, score_batch

SMALL = {
    "logistic_regression": {},
    "random_forest": {"model__n_estimators": 20, "model__max_depth": 8},
    "gradient_boosting": {"model__max_iter": 30},
    "xgboost": {"model__n_estimators": 40, "model__max_depth": 4},
}


@pytest.fixture(scope="module")
def data():
    """Synthetic rows with missing cells, an int column and both engineered features (a ratio
    of two columns, a bucket of one): what batch scoring explains."""
    from churn_assets.ml.features import feature_spec
    from churn_assets.ml.spec import load_spec
    from churn_assets.ml.synthetic import generate_synthetic
    from churn_assets.ml.validation import TARGET, typed_columns, validate

    spec = load_spec("synthetic")
    valid = validate(generate_synthetic(3_000, seed=11, fault_rate=0.05), spec).valid
    fspec = feature_spec(spec, typed_columns(valid, spec))
    assert fspec.ratios and fspec.buckets  # the dependencies this module must follow
    X = valid[fspec.inputs]
    return fspec, X, valid[TARGET].astype(int)


def _project_pipeline(family, data):
    from churn_assets.ml.features import build_preprocessor
    from churn_assets.ml.models import build_pipeline

    fspec, X, y = data
    pipeline = build_pipeline(family, build_preprocessor(fspec), y, random_state=3)
    return pipeline.set_params(**SMALL[family]).fit(X, y)


def _sample(X, base):
    rows = X.sample(500, random_state=4)
    rows = rows.assign(tenure=rows["tenure"].round().astype("int64"))  # ints as users send
    rows.iloc[:40, rows.columns.get_loc("gender")] = base["gender"]  # some cells at baseline
    return rows


@pytest.mark.parametrize("family", list(SMALL))
def test_every_family_gets_the_generic_numbers(family, data):
    model = _project_pipeline(family, data)
    _, X, _ = data
    base = baseline_values(X)
    rows = _sample(X, base)
    assert design_of(model) is not None  # the design-matrix method is the one under test
    expected = contributions(model, rows, base, generic=True)
    got = contributions(model, rows, base, chunk_rows=173)  # several chunks, a ragged last
    assert got.index.equals(rows.index) and list(got.columns) == list(rows.columns)
    tolerance = 1e-9 if family == "logistic_regression" else 0.0
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=tolerance)
    # every column matters somewhere, the engineered features' sources included
    assert (got.to_numpy() != 0).any(axis=0).all()
    # Batch scoring preprocesses once for scores and reasons: the Pipeline's own scores, and
    # the reasons the generic contributions give.
    batch = rows.assign(customer_id=np.arange(len(rows)))
    scored = score_batch(model, batch, 0.5, "1", "customer_id", base, reasons_for="all").frame
    np.testing.assert_array_equal(scored[SCORE].to_numpy(), model.predict_proba(rows)[:, 1])
    assert scored[REASONS].tolist() == _reasons_text(expected, rows)


@pytest.mark.parametrize(
    ("family", "method"),
    [
        ("logistic_regression", "sigmoid"),  # the linear shortcut, then the map
        ("random_forest", "isotonic"),
        ("gradient_boosting", "isotonic"),  # the binned trees' walk, then the map
        ("xgboost", "sigmoid"),
    ],
)
def test_a_calibrated_model_gets_the_generic_numbers(family, method, data):
    """A CalibratedPipeline's occlusions and batch scores go through its map, as its own
    `predict_proba` (what the generic method and the served model use) does."""
    from churn_assets.ml.models.calibration import ScoreCalibrator, with_calibrator

    inner = _project_pipeline(family, data)
    _, X, y = data
    scores = inner.predict_proba(X)[:, 1]
    model = with_calibrator(inner, ScoreCalibrator.fit(method, scores, y.to_numpy()))
    base = baseline_values(X)
    rows = _sample(X, base)
    assert design_of(model).calibrator is model.calibrator
    expected = contributions(model, rows, base, generic=True)
    raw = contributions(inner, rows, base, generic=True)
    assert np.abs(expected.to_numpy() - raw.to_numpy()).max() > 0.01  # the map matters
    got = contributions(model, rows, base, chunk_rows=173)
    tolerance = 1e-9 if family == "logistic_regression" else 0.0
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=tolerance)
    batch = rows.assign(customer_id=np.arange(len(rows)))
    scored = score_batch(model, batch, 0.3, "1", "customer_id", base, reasons_for="all").frame
    np.testing.assert_array_equal(scored[SCORE].to_numpy(), model.predict_proba(rows)[:, 1])


def _reasons_text(effects: pd.DataFrame, rows: pd.DataFrame, k=3, min_effect=0.005):
    values = effects.to_numpy()
    out = []
    for i, picks in enumerate(np.argsort(-values, axis=1)[:, :k]):
        parts = [
            f"{rows.columns[j]}={rows.iat[i, j]} ({values[i, j]:+.3f})"
            for j in picks
            if values[i, j] >= min_effect
        ]
        out.append("; ".join(parts))
    assert any(out) and not all(out)
    return out


def test_logistic_regression_needs_no_predict_beyond_the_rows_own(data, monkeypatch):
    model = _project_pipeline("logistic_regression", data)
    _, X, _ = data
    base = baseline_values(X)
    rows = _sample(X, base)
    proba = model.predict_proba(rows)[:, 1]
    expected = contributions(model, rows, base, proba=proba, generic=True)

    def refuse(*args, **kwargs):
        raise AssertionError("predict_proba called for an occluded copy")

    monkeypatch.setattr(LogisticRegression, "predict_proba", refuse)
    got = contributions(model, rows, base, proba=proba)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-9)


def _frame(n=1_500, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(0, 1, n),
            "b": rng.normal(0, 1, n),
            "c": rng.choice(["x", "y", "z", None], n),
        }
    )
    X.loc[X.sample(60, random_state=seed).index, "a"] = np.nan
    y = (rng.random(n) < 1 / (1 + np.exp(-(X["a"].fillna(0) * X["b"])))).astype(int)
    return X, y


@pytest.mark.parametrize("numeric_block", ["poly", "pca"])
def test_a_block_mixing_its_columns_is_recomputed_for_the_occluded_rows(numeric_block):
    """PolynomialFeatures (a*b) and PCA mix columns: the occluded row of `a` changes outputs
    shared with `b`, which only a recomputation of the block gets right."""
    mixer = PolynomialFeatures(degree=2) if numeric_block == "poly" else PCA(n_components=2)
    X, y = _frame()
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", Pipeline([("imp", SimpleImputer()), ("mix", mixer)]), ["a", "b"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["c"]),
                    ],
                    sparse_threshold=0.0,
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(X, y)
    base = baseline_values(X)
    rows = X.head(300)
    assert design_of(model) is not None
    expected = contributions(model, rows, base, generic=True).to_numpy()
    got = contributions(model, rows, base).to_numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert (np.abs(expected) > 1e-6).any(axis=0).all()


def test_column_wise_blocks_are_told_from_mixing_ones():
    assert column_wise(Pipeline([("i", SimpleImputer()), ("s", StandardScaler())]))
    assert column_wise(OneHotEncoder()) and column_wise("passthrough")
    assert not column_wise(Pipeline([("i", SimpleImputer()), ("p", PolynomialFeatures())]))
    assert not column_wise(PCA())
    assert column_wise(FunctionTransformer())  # what a fitted 'passthrough' becomes
    assert not column_wise(FunctionTransformer(np.log1p))


def test_an_estimator_fitted_on_a_frame_uses_the_generic_method():
    X, y = _frame()
    prep = ColumnTransformer(
        [("num", SimpleImputer(), ["a", "b"]), ("cat", OneHotEncoder(sparse_output=False), ["c"])],
        sparse_threshold=0.0,
    ).set_output(transform="pandas")
    model = Pipeline([("prep", prep), ("model", LogisticRegression())]).fit(X, y)
    assert design_of(model) is None


def test_other_models_and_sparse_outputs_use_the_generic_method():
    X, y = _frame()
    sparse_prep = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), ["c"])], sparse_threshold=1.0
    )
    model = Pipeline([("prep", sparse_prep), ("model", LogisticRegression())]).fit(X, y)
    assert design_of(model) is None
    assert design_of(model.named_steps["model"]) is None
    base = baseline_values(X)
    rows = X.head(50)
    np.testing.assert_array_equal(
        contributions(model, rows, base).to_numpy(),
        contributions(model, rows, base, generic=True).to_numpy(),
    )


class _TextModel(ClassifierMixin, BaseEstimator):
    """An estimator taking an array with a text column (it encodes the text itself)."""

    def __init__(self, prep):
        self.prep = prep

    def fit(self, Z, y):
        frame = pd.DataFrame(Z, columns=["a", "b", "c"]).astype({"a": float, "b": float})
        self.pipe_ = Pipeline([("p", clone(self.prep)), ("m", LogisticRegression())])
        self.pipe_.fit(frame, y)
        self.classes_ = self.pipe_.classes_
        return self

    def predict_proba(self, Z):
        frame = pd.DataFrame(Z, columns=["a", "b", "c"]).astype({"a": float, "b": float})
        return self.pipe_.predict_proba(frame)


def test_text_passed_through_to_the_estimator_uses_the_generic_method():
    """A design matrix holding text (a category passed through to a model that takes it) is
    not numeric: the contributions come from the whole model on stacked copies."""

    X, y = _frame()
    X = X.assign(c=X["c"].fillna("none"))
    prep = ColumnTransformer(
        [("num", SimpleImputer(), ["a", "b"]), ("cat", OrdinalEncoder(), ["c"])],
        sparse_threshold=0.0,
        verbose_feature_names_out=False,
    )
    passthrough = ColumnTransformer(
        [("num", "passthrough", ["a", "b"]), ("cat", "passthrough", ["c"])],
        sparse_threshold=0.0,
    )
    model = Pipeline([("prep", passthrough), ("model", _TextModel(prep))]).fit(X, y)
    assert design_of(model) is not None  # the shape fits; the text is found when scoring
    base = baseline_values(X)
    rows = X.head(200)
    expected = contributions(model, rows, base, generic=True).to_numpy()
    np.testing.assert_array_equal(contributions(model, rows, base).to_numpy(), expected)
    assert (expected[:, 2] != 0).any()
