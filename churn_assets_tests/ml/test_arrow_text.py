"""Arrow-backed text in the data path: the same validation, the same stored tables, and models
still fed object columns of str/None."""

import io

import numpy as np
import pandas as pd

from churn_assets.ml.features import build_features, feature_spec
from churn_assets.ml.source_tables import mixed_columns_as_text
from churn_assets.ml.spec import load_spec
from churn_assets.ml.synthetic import generate_synthetic
from churn_assets.ml.validation import typed_columns, validate
from churn_assets.ml.validation_types import TEXT, text_as_arrow


def _parquet_round_trip(frame: pd.DataFrame) -> pd.DataFrame:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return pd.read_parquet(io.BytesIO(buffer.getvalue()))


def _raw() -> pd.DataFrame:
    raw = generate_synthetic(4_000, seed=11, fault_rate=0.05)
    # a CSV's mixed column: numbers beside text, and a missing cell
    raw["total_charges"] = raw["total_charges"].astype(object)
    raw.loc[[1, 2, 3], "total_charges"] = [12.5, 415, None]
    return raw


def test_text_as_arrow_gives_the_text_mixed_columns_had():
    raw = _raw()
    arrow = text_as_arrow(raw)
    before = mixed_columns_as_text(raw)
    for col in raw.columns:
        if raw[col].dtype == object:
            assert arrow[col].dtype == TEXT
            expected = [None if pd.isna(v) else v for v in before[col]]
            got = arrow[col].to_numpy(dtype=object, na_value=None)
            assert list(got) == expected, col
        else:
            assert arrow[col].dtype == raw[col].dtype
    assert arrow.loc[1, "total_charges"] == "12.5" and arrow.loc[2, "total_charges"] == "415"
    assert text_as_arrow(arrow) is arrow  # nothing left to convert


def test_validation_of_arrow_text_equals_validation_of_object_text(monkeypatch):
    import churn_assets.ml.validation as validation

    spec = load_spec("synthetic")
    raw = _raw()
    after = validate(text_as_arrow(raw), spec)
    # The path before Arrow text: the rules on object columns (the conversion made a no-op).
    monkeypatch.setattr(validation, "text_as_arrow", lambda frame: frame)
    before = validate(mixed_columns_as_text(raw), spec)
    pd.testing.assert_frame_equal(after.valid, before.valid)
    pd.testing.assert_frame_equal(after.quarantined, before.quarantined)
    assert after.report == before.report
    # models keep getting object columns of str with None for missing, never NaN
    cats = typed_columns(after.valid, spec).categorical
    assert all(after.valid[c].dtype == object for c in cats)
    contract = after.valid["contract"]
    assert contract.isna().any() and all(v is None for v in contract[contract.isna()])


def test_a_features_table_built_from_arrow_text_is_stored_as_before():
    spec = load_spec("synthetic")
    valid = validate(_raw(), spec).valid
    fspec = feature_spec(spec, typed_columns(valid, spec))
    old = build_features(valid, spec, fspec, spec.id_name)
    arrow_valid = text_as_arrow(valid)
    new = build_features(arrow_valid, spec, fspec, spec.id_name)
    assert (new.dtypes == TEXT).sum() >= len(fspec.categorical)
    stored_old, stored_new = _parquet_round_trip(old), _parquet_round_trip(new)
    pd.testing.assert_frame_equal(stored_new, stored_old)
    missing = stored_new["contract"].isna()
    assert missing.any() and all(v is None for v in stored_new.loc[missing, "contract"])
    assert not any(isinstance(v, float) and np.isnan(v) for v in stored_new["contract"])
