import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from churn_assets.ml.features import (
    SPLIT,
    build_features,
    build_preprocessor,
    feature_spec,
    split_rows,
)
from churn_assets.ml.spec import DatasetSpec, load_spec
from churn_assets.ml.synthetic import generate_synthetic
from churn_assets.ml.validation import TARGET, validate


@pytest.fixture(scope="module")
def prepared():
    spec = load_spec("synthetic")
    result = validate(generate_synthetic(8_000, seed=21, fault_rate=0.01), spec)
    fspec = feature_spec(spec, result.report.types)
    return spec, result.valid, fspec, build_features(result.valid, spec, fspec, spec.id_name)


def test_split_is_seeded_stratified_and_sized(prepared):
    spec, valid, fspec, table = prepared
    test = table[table[SPLIT] == "test"]
    train = table[table[SPLIT] == "train"]
    assert len(test) == pytest.approx(0.2 * len(table), abs=2)
    assert test[TARGET].mean() == pytest.approx(train[TARGET].mean(), abs=0.01)
    again = build_features(valid, spec, fspec, spec.id_name)
    assert again[SPLIT].equals(table[SPLIT])
    other = split_rows(valid, spec, seed=123)
    assert not other.equals(table[SPLIT])


def test_features_table_holds_raw_inputs_target_and_split(prepared):
    spec, _, fspec, table = prepared
    assert list(table.columns) == [spec.id_name, *fspec.inputs, TARGET, SPLIT]
    assert fspec.engineered == ["charges_per_tenure_month", "tenure_bucket"]


def test_preprocessor_learns_from_the_training_rows_only(prepared):
    _, _, fspec, table = prepared
    train = table[table[SPLIT] == "train"]
    test = table[table[SPLIT] == "test"]
    model = Pipeline(
        [("preprocess", build_preprocessor(fspec)), ("model", LogisticRegression(max_iter=500))]
    )
    model.fit(train[fspec.inputs], train[TARGET])
    columns = model.named_steps["preprocess"].named_steps["columns"]
    imputer = columns.named_transformers_["numeric"].named_steps["impute"]
    numeric = [*fspec.numeric, "charges_per_tenure_month"]
    engineered = model.named_steps["preprocess"].named_steps["engineer"].transform(train)
    assert np.allclose(imputer.statistics_, engineered[numeric].median().to_numpy())
    scaler = columns.named_transformers_["numeric"].named_steps["scale"]
    assert np.allclose(
        scaler.mean_[:2], engineered[numeric[:2]].fillna(engineered[numeric[:2]].median()).mean()
    )
    proba = model.predict_proba(test[fspec.inputs])[:, 1]
    assert 0.0 < proba.min() and proba.max() < 1.0


def test_unseen_and_missing_categories_at_scoring_time(prepared):
    _, _, fspec, table = prepared
    train = table[table[SPLIT] == "train"]
    pre = build_preprocessor(fspec).fit(train[fspec.inputs], train[TARGET])
    odd = train[fspec.inputs].head(3).copy()
    odd["contract"] = ["Weekly", None, "One year"]
    odd["tenure"] = [np.nan, 5.0, 500.0]
    out = pre.transform(odd)
    assert out.shape[0] == 3 and np.isfinite(out).all()


def test_engineered_features_where_the_columns_exist():
    spec = load_spec("synthetic")
    frame = pd.DataFrame({"tenure": [0.0, 12.0, 60.0], "total_charges": [0.0, 1300.0, 6100.0]})
    pre = build_preprocessor(
        feature_spec(spec, validate_types(["tenure", "total_charges"], []))
    ).named_steps["engineer"]
    out = pre.fit_transform(frame)
    assert out["charges_per_tenure_month"].tolist() == pytest.approx([0.0, 100.0, 100.0])
    assert out["tenure_bucket"].tolist() == ["b0", "b1", "b4"]
    only_tenure = feature_spec(spec, validate_types(["tenure"], []))
    assert only_tenure.engineered == ["tenure_bucket"]


def validate_types(numeric, categorical):
    from churn_assets.ml.validation import ColumnTypes

    return ColumnTypes(numeric=numeric, categorical=categorical)


def test_time_based_split_puts_the_latest_rows_in_test():
    n = 200
    raw = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=n, freq="D").astype(str),
            "x": np.arange(n, dtype=float),
            "churn": np.where(np.arange(n) % 3 == 0, "Yes", "No"),
        }
    )
    spec = DatasetSpec(name="t", target_column="churn", date_column="when")
    valid = validate(raw, spec).valid
    split = split_rows(valid, spec)
    assert (split.iloc[-40:] == "test").all() and (split.iloc[:160] == "train").all()


def test_split_refuses_a_single_class():
    raw = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "churn": ["Yes", "Yes", "Yes", "Yes"]})
    spec = DatasetSpec(name="t", target_column="churn", negative_labels=["No"])
    valid = validate(raw, spec).valid
    with pytest.raises(ValueError, match=r"class counts \{1: 4\}"):
        split_rows(valid, spec)
