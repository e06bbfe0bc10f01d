"""Binned tree walks give HistGradientBoosting's public predict_proba, exactly.

`ml/explain_hgb.py` reads scikit-learn's private attributes; these tests pin it to the public
`predict_proba` on the platform's gradient-boosting pipelines (its defaults and the corners of
its search space), on values at the bin edges, outside the training range and missing.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from threadpoolctl import threadpool_limits

from churn_assets.ml.explain_design import design_of
from churn_assets.ml.explain_hgb import binned_trees

# The family's defaults ({}) and the corners of `default_search_space("gradient_boosting")`.
CONFIGS = [
    {},
    {
        "model__learning_rate": 0.05,
        "model__max_leaf_nodes": 8,
        "model__min_samples_leaf": 5,
        "model__l2_regularization": 1e-4,
    },
    {
        "model__learning_rate": 0.3,
        "model__max_leaf_nodes": 63,
        "model__min_samples_leaf": 100,
        "model__l2_regularization": 10.0,
    },
    {
        "model__learning_rate": 0.3,
        "model__max_leaf_nodes": 63,
        "model__min_samples_leaf": 5,
        "model__l2_regularization": 1e-4,
    },
]


@pytest.fixture(autouse=True)
def one_thread():
    """HistGradientBoosting's OpenMP threads spin on a busy machine (a 1-second fit took 100 s
    beside other work); these tests check numbers, not threads."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def data():
    from churn_assets.ml.features import feature_spec
    from churn_assets.ml.spec import load_spec
    from churn_assets.ml.synthetic import generate_synthetic
    from churn_assets.ml.validation import TARGET, typed_columns, validate

    spec = load_spec("synthetic")
    valid = validate(generate_synthetic(4_000, seed=5, fault_rate=0.05), spec).valid
    fspec = feature_spec(spec, typed_columns(valid, spec))
    return fspec, valid[fspec.inputs], valid[TARGET].astype(int)


def _hard_rows(estimator, Z: np.ndarray, seed: int) -> np.ndarray:
    """Rows of `Z` plus rows holding every bin edge exactly, values beyond the training range
    and (when the model saw missing values) NaN."""
    rng = np.random.default_rng(seed)
    edges = estimator._bin_mapper.bin_thresholds_
    rows = [Z]
    for f, cut in enumerate(edges):
        if len(cut):
            at_edges = Z[rng.integers(0, len(Z), len(cut))].copy()
            at_edges[:, f] = cut
            rows.append(at_edges)
    far = Z[:50].copy()
    far[:25] = Z.max(axis=0) + 1e6
    far[25:] = Z.min(axis=0) - 1e6
    rows.append(far)
    return np.vstack(rows)


@pytest.mark.parametrize("config", CONFIGS, ids=["defaults", "small", "large", "mixed"])
def test_binned_walk_is_predict_proba_on_the_platforms_pipelines(config, data):
    from churn_assets.ml.features import build_preprocessor
    from churn_assets.ml.models import build_pipeline

    fspec, X, y = data
    pipeline = build_pipeline("gradient_boosting", build_preprocessor(fspec), y, random_state=2)
    pipeline.set_params(**config).fit(X, y)
    design = design_of(pipeline)
    estimator = design.estimator
    trees = binned_trees(estimator)
    assert trees is not None
    Z = _hard_rows(estimator, design.transform(X)[1], seed=1)
    everything = np.arange(Z.shape[1])
    binned = trees.bins(Z, everything)
    np.testing.assert_array_equal(binned, estimator._bin_mapper.transform(Z))
    np.testing.assert_array_equal(trees.proba(binned), estimator.predict_proba(Z)[:, 1])
    # a column-major copy (what the occlusions build) walks the same
    np.testing.assert_array_equal(
        trees.proba(np.asfortranarray(binned)), estimator.predict_proba(Z)[:, 1]
    )


def test_missing_values_walk_to_the_missing_side():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3_000, 4))
    y = (X[:, 0] + rng.normal(size=3_000) > 0).astype(int)
    X[rng.random(X.shape) < 0.1] = np.nan  # the trees learn where missing values go
    model = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X, y)
    trees = binned_trees(model)
    Z = _hard_rows(model, X, seed=2)
    Z[::7, 1] = np.nan
    binned = trees.bins(Z, np.arange(4))
    np.testing.assert_array_equal(binned, model._bin_mapper.transform(Z))
    np.testing.assert_array_equal(trees.proba(binned), model.predict_proba(Z)[:, 1])


def test_bins_of_a_few_features_are_those_features_bins(data):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2_000, 5))
    y = (X[:, 2] > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=10).fit(X, y)
    trees = binned_trees(model)
    features = np.array([3, 1])
    full = model._bin_mapper.transform(X)
    np.testing.assert_array_equal(trees.bins(X[:, features], features), full[:, features])
    np.testing.assert_array_equal(trees.bins(X[0, features], features), full[0, features])


def test_other_models_use_the_public_predict():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, 3))
    three = rng.integers(0, 3, 600)
    assert binned_trees(HistGradientBoostingClassifier(max_iter=5).fit(X, three)) is None
    assert binned_trees(RandomForestClassifier(n_estimators=3).fit(X, three)) is None
    frame = pd.DataFrame({"a": X[:, 0], "c": pd.Categorical(three.astype(str))})
    categorical = HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype")
    assert binned_trees(categorical.fit(frame, (X[:, 1] > 0).astype(int))) is None
    assert binned_trees(HistGradientBoostingClassifier()) is None  # not fitted
