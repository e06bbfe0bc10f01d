"""What training copies: the fixes of issue 11's 5M-row memory goal, each checked on its own.

At 5M rows a copy of the training inputs is about 450 MiB; these tests fail when a copy
comes back (shared memory checked with `np.shares_memory`), and check the values are unchanged.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from churn_assets.ml.features import (
    EngineeredFeatures,
    FeatureSpec,
    build_preprocessor,
    labeled_xy,
    split_xy,
)
from churn_assets.ml.models.search import renumbered
from churn_assets.ml.scoring import churn_proba

SPEC = FeatureSpec(
    numeric=("tenure", "total_charges"),
    categorical=("contract",),
    ratios=(("charges_per_tenure_month", "total_charges", "tenure"),),
    buckets=(("tenure_bucket", "tenure", (12.0, 24.0)),),
)


def _table(rows: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(rows)],
            "tenure": rng.integers(0, 72, rows).astype(float),
            "total_charges": rng.uniform(10, 5000, rows),
            "contract": rng.choice(["monthly", "yearly", None], rows),
            "churned": rng.integers(0, 2, rows).astype("int8"),
            "split": rng.choice(["train", "test"], rows, p=[0.7, 0.3]),
        }
    )


def test_engineered_features_share_the_raw_columns_and_leave_the_input_alone():
    X, _ = split_xy(_table(), SPEC, "train")
    before = X.copy()
    out = EngineeredFeatures(ratios=SPEC.ratios, buckets=SPEC.buckets).fit(X).transform(X)
    for column in X.columns:
        assert np.shares_memory(out[column].to_numpy(), X[column].to_numpy()), column
    assert list(out.columns) == [*X.columns, "charges_per_tenure_month", "tenure_bucket"]
    pd.testing.assert_frame_equal(X, before)  # nothing added to or written into the input
    expected = X["total_charges"] / (X["tenure"].clip(lower=0) + 1.0)
    np.testing.assert_array_equal(out["charges_per_tenure_month"], expected)


def test_renumbered_shares_the_columns_and_numbers_the_rows():
    X, _ = split_xy(_table(), SPEC, "train")
    out = renumbered(X)
    assert isinstance(out.index, pd.RangeIndex) and list(out.index) == list(range(len(X)))
    assert not isinstance(X.index, pd.RangeIndex) or X.index.start != 0  # the input keeps its own
    for column in X.columns:
        assert np.shares_memory(out[column].to_numpy(), X[column].to_numpy()), column
    pd.testing.assert_frame_equal(out, X.reset_index(drop=True))


def test_split_xy_selects_the_same_rows_and_columns_as_before():
    table = _table()
    X, y = split_xy(table, SPEC, "test")
    rows = table[table["split"] == "test"]
    pd.testing.assert_frame_equal(X, rows[SPEC.inputs])
    pd.testing.assert_series_equal(y, rows["churned"].astype(int))


def test_labeled_xy_is_the_training_rows_then_the_holdout():
    table = _table()
    X, y = labeled_xy(table, SPEC)
    parts = [split_xy(table, SPEC, side) for side in ("train", "test")]
    pd.testing.assert_frame_equal(X, pd.concat([x for x, _ in parts]))
    pd.testing.assert_series_equal(y, pd.concat([t for _, t in parts]))


def test_labeled_xy_names_missing_columns():
    with pytest.raises(ValueError, match="lacks columns"):
        labeled_xy(_table().drop(columns=["contract"]), SPEC)


@pytest.fixture(scope="module")
def fitted():
    X, y = split_xy(_table(400), SPEC, "train")
    model = Pipeline([("preprocess", build_preprocessor(SPEC)), ("model", LogisticRegression())])
    return model.fit(X, y), X


def test_churn_proba_in_chunks_equals_predict_proba(fitted):
    model, X = fitted
    whole = model.predict_proba(X)[:, 1]
    chunked = churn_proba(model, X, chunk_rows=7)
    assert chunked.shape == whole.shape
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12)


def test_churn_proba_scores_chunk_by_chunk(fitted):
    model, X = fitted
    sizes = []

    class Recording:
        def predict_proba(self, rows):
            sizes.append(len(rows))
            return model.predict_proba(rows)

    churn_proba(Recording(), X, chunk_rows=100)
    assert max(sizes) == 100 and sum(sizes) == len(X) and len(sizes) == -(-len(X) // 100)


def test_churn_proba_refuses_an_empty_chunk(fitted):
    model, X = fitted
    with pytest.raises(ValueError, match="chunk_rows must be >= 1"):
        churn_proba(model, X, chunk_rows=0)
