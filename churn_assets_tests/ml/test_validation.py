import numpy as np
import pandas as pd
import pytest

from churn_assets.ml.spec import DatasetSpec, load_spec
from churn_assets.ml.synthetic import generate_synthetic
from churn_assets.ml.validation import REASONS_COLUMN, ROW_COLUMN, TARGET, typed_columns, validate


@pytest.fixture(scope="module")
def faulty():
    spec = load_spec("synthetic")
    raw = generate_synthetic(30_000, seed=9, fault_rate=0.05)
    return raw, spec, validate(raw, spec)


def test_every_row_is_kept_or_quarantined_exactly_once(faulty):
    raw, _, result = faulty
    rows = np.concatenate([result.valid[ROW_COLUMN], result.quarantined[ROW_COLUMN]])
    assert np.array_equal(np.sort(rows), np.arange(len(raw)))
    assert result.report.rows_in == result.report.rows_kept + result.report.rows_quarantined


def test_each_injected_fault_is_quarantined_with_its_reason(faulty):
    raw, _, result = faulty
    reasons = result.report.reasons
    assert reasons["duplicate_id"] == raw["customer_id"].duplicated().sum()
    assert reasons["missing_target"] == raw["churn"].isna().sum()
    assert reasons["out_of_range"] == (raw["tenure"] < 0).sum()
    assert reasons["not_numeric"] == raw["total_charges"].isin(["n/a", "#VALUE!", "12,5"]).sum()
    quarantined = result.quarantined.set_index(ROW_COLUMN)
    negative = raw.index[raw["tenure"] < 0][0]
    assert (
        f"column 'tenure': {float(raw['tenure'][negative])} outside [0.0, 120.0]"
        in (quarantined.loc[negative, REASONS_COLUMN])
    )


def test_validated_rows_are_typed_and_clean(faulty):
    _, spec, result = faulty
    valid = result.valid
    assert valid["customer_id"].is_unique
    assert set(valid[TARGET].unique()) == {0, 1}
    assert valid["tenure"].between(0, 120).all()
    assert valid["total_charges"].dtype == float
    assert set(valid["contract"].dropna()) <= {"Month-to-month", "One year", "Two year"}
    types = typed_columns(valid, spec)
    assert set(types.numeric) == set(spec.numeric_columns)
    assert set(types.categorical) == set(spec.categorical_columns)


def test_quality_score_follows_its_formula(faulty):
    raw, _, result = faulty
    report = result.report
    expected = 100 * report.rows_kept / len(raw) * (1 - np.mean(list(report.missing_rate.values())))
    assert report.quality_score == pytest.approx(expected, abs=0.01)
    assert 80 < report.quality_score < 100


def test_allowed_categories_and_a_row_with_several_reasons():
    raw = pd.DataFrame(
        {
            "id": ["a", "b", "c", "a"],
            "plan": ["basic", "gold", "pro", "basic"],
            "age": [30, 20, 500, 41],
            "churn": ["Yes", "No", "No", None],
        }
    )
    spec = DatasetSpec(
        name="t",
        id_column="id",
        target_column="churn",
        ranges={"age": {"min": 18, "max": 120}},
        allowed_categories={"plan": ["basic", "pro"]},
    )
    result = validate(raw, spec)
    reasons = dict(
        zip(result.quarantined[ROW_COLUMN], result.quarantined[REASONS_COLUMN], strict=True)
    )
    assert reasons[1] == "column 'plan': 'gold' not in allowed categories ['basic', 'pro']"
    assert reasons[2] == "column 'age': 500.0 outside [18.0, 120.0]"
    assert reasons[3] == "duplicate id 'a' (first at row 0); target is missing"
    assert result.valid["id"].tolist() == ["a"]


def test_identifier_like_text_is_excluded_from_features():
    raw = pd.DataFrame(
        {
            "name": [f"person {i}" for i in range(200)],
            "plan": ["a", "b"] * 100,
            "churn": ["Yes", "No", "No", "No"] * 50,
        }
    )
    result = validate(raw, DatasetSpec(name="t", target_column="churn"))
    assert "name" in result.report.types.excluded
    assert result.report.types.categorical == ["plan"]
    assert "row_id" in result.valid.columns  # no id column declared: row numbers serve


def test_declared_column_missing_from_table():
    raw = pd.DataFrame({"a": [1, 2], "churn": ["Yes", "No"]})
    spec = DatasetSpec(name="t", target_column="churn", numeric_columns=["a", "b"])
    with pytest.raises(ValueError, match=r"declared columns \['b'\] are not in the table"):
        validate(raw, spec)
