"""The compiled serving path equals the Pipeline's predict_proba to 1e-9 on 100k rows of every
family, with missing values, unseen categories and out-of-range numbers in the rows; a step it
does not know falls back to the Pipeline and says so."""

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from churn_assets.ml.models import FAMILIES
from churn_assets.serving.compiled import NotCompilable, compile_pipeline
from churn_assets.serving.config import ServerConfig
from churn_assets.serving.model import input_schema, prepare
from churn_assets.serving.schema import FEW_ROWS, flag_rows, rows_from_frame
from churn_assets_tests.serving.models import calibrated, fitted, validated


@pytest.fixture(scope="module")
def scoring_rows() -> pd.DataFrame:
    """100k validated rows of another seed, made harder: nulls, unseen and far-out values."""
    valid, inputs = validated(102_000, 99)  # about 1% is quarantined
    X = valid[inputs].head(100_000).reset_index(drop=True).copy()
    rng = np.random.default_rng(0)
    for col in X.columns:
        X.loc[rng.random(len(X)) < 0.02, col] = None
    X.loc[rng.random(len(X)) < 0.01, "contract"] = "Lifetime"  # never seen in training
    X.loc[rng.random(len(X)) < 0.01, "tenure"] = -1e6
    X.loc[rng.random(len(X)) < 0.01, "total_charges"] = 1e9
    X.loc[:10, list(X.columns)] = None  # rows with every feature null
    return X


# The estimator's direct call each family is scored with (serving/direct.py).
DIRECT_CALLS = {
    "logistic_regression": "X @ coef_ + intercept_, expit",
    "random_forest": "trees' predict_proba, averaged",
    "gradient_boosting": "predict_proba",
    "xgboost": "Booster.inplace_predict",
}


@pytest.mark.parametrize("family", FAMILIES)
def test_compiled_equals_the_pipeline_on_100k_rows(family, scoring_rows):
    pipeline = fitted(family)
    schema = input_schema(pipeline)
    scorer = compile_pipeline(pipeline, schema)
    assert scorer.estimator_call == DIRECT_CALLS[family]
    rows = rows_from_frame(scoring_rows, schema)
    expected = pipeline.predict_proba(scoring_rows)[:, 1]
    got = scorer.predict(rows)
    assert len(rows) == 100_000
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    # A few rows take the loop path instead of numpy's: the same answers.
    for picks in (range(1), range(5, 21), range(0, 3000, 200)):
        few = scoring_rows.iloc[list(picks)]
        small = scorer.predict(rows_from_frame(few, schema))
        np.testing.assert_allclose(small, expected[list(picks)], rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("family", "method"), [("random_forest", "isotonic"), ("xgboost", "sigmoid")]
)
def test_a_calibrated_model_serves_its_calibrated_scores(family, method, scoring_rows):
    """The served score is `predict_proba` of the logged (calibrated) model, on the compiled
    path as through the Pipeline; the map moves the scores, so skipping it would fail here."""
    pipeline = calibrated(family, method)
    loaded = prepare(pipeline, "1", ServerConfig())
    assert loaded.scoring_path == "compiled"
    assert (
        loaded.describe()["estimator_call"] == f"{DIRECT_CALLS[family]}, then {method} calibration"
    )
    X = scoring_rows.head(20_000)
    rows = rows_from_frame(X, loaded.schema)
    expected = pipeline.predict_proba(X)[:, 1]
    raw = Pipeline(pipeline.steps).predict_proba(X)[:, 1]
    assert np.abs(expected - raw).max() > 0.05
    np.testing.assert_allclose(loaded.predict(rows), expected, rtol=0, atol=1e-9)
    few = scoring_rows.iloc[:7]
    np.testing.assert_allclose(
        loaded.predict(rows_from_frame(few, loaded.schema)), expected[:7], rtol=0, atol=1e-9
    )
    unc = prepare(pipeline, "1", ServerConfig(compiled=False))
    np.testing.assert_allclose(unc.predict(rows), expected, rtol=0, atol=1e-12)


def test_the_compiled_matrix_is_the_preprocessors_output(scoring_rows):
    pipeline = fitted("xgboost")
    schema = input_schema(pipeline)
    rows = rows_from_frame(scoring_rows.head(5_000), schema)
    matrix = compile_pipeline(pipeline, schema).transform(rows)
    expected = Pipeline(pipeline.steps[:-1]).transform(scoring_rows.head(5_000))
    np.testing.assert_allclose(matrix, expected, rtol=0, atol=1e-12)


def test_an_unknown_step_falls_back_to_the_pipeline_and_says_so(scoring_rows):
    base = fitted("logistic_regression")
    odd = Pipeline([*base.steps[:-1], ("log", FunctionTransformer(np.tanh)), base.steps[-1]])
    with pytest.raises(NotCompilable, match="FunctionTransformer"):
        compile_pipeline(odd, input_schema(odd))
    loaded = prepare(odd, "1", ServerConfig())
    assert loaded.scorer is None
    assert loaded.describe()["scoring_path"].startswith("pipeline (not compiled: step Function")
    rows = rows_from_frame(scoring_rows.head(50), loaded.schema)
    expected = odd.predict_proba(scoring_rows.head(50))[:, 1]
    np.testing.assert_allclose(loaded.predict(rows), expected, rtol=0, atol=1e-12)


def test_compiling_can_be_turned_off():
    loaded = prepare(fitted("logistic_regression"), "1", ServerConfig(compiled=False))
    assert loaded.scorer is None and loaded.scoring_path == "pipeline"


def test_a_few_rows_get_the_flags_numpy_gives_many(scoring_rows):
    """`flag_rows` loops in Python up to FEW_ROWS rows: row by row, the same flags as the
    vectorised pass over 3,000 rows (out-of-range, unseen, all-null rows among them)."""
    schema = input_schema(fitted("xgboost"))
    many = rows_from_frame(scoring_rows.head(3_000), schema)
    assert len(many) > FEW_ROWS
    kinds = {f.split(":")[0] for flags in many.flags for f in flags}
    assert kinds == {"out_of_range", "unseen_category", "all_features_missing"}
    for i in range(len(many)):
        one = flag_rows(many.numeric[i : i + 1], many.categorical[i : i + 1], schema)
        assert one == [many.flags[i]], f"row {i}"
    few = flag_rows(many.numeric[:FEW_ROWS], many.categorical[:FEW_ROWS], schema)
    assert few == many.flags[:FEW_ROWS]
