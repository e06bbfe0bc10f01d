"""validate(arrow_text=True): the same table, its text held by Arrow, stored as the same values."""

import io

import pandas as pd
import pytest

from churn_assets.ml.spec import load_spec
from churn_assets.ml.synthetic import generate_synthetic
from churn_assets.ml.validation import validate
from churn_assets.ml.validation_types import TEXT


@pytest.fixture(scope="module")
def raw():
    frame = generate_synthetic(3_000, seed=8, fault_rate=0.05)
    # blank and padded text, and a missing category, as real files hold them
    frame.loc[frame.index[:5], "contract"] = "  "
    frame.loc[frame.index[5:10], "gender"] = None
    frame.loc[frame.index[10:15], "partner"] = " Yes "
    return frame


def _round_trip(frame: pd.DataFrame) -> pd.DataFrame:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return pd.read_parquet(io.BytesIO(buffer.getvalue()))


def test_arrow_text_is_the_object_table_once_stored(raw):
    spec = load_spec("synthetic")
    plain = validate(raw, spec)
    arrow = validate(raw, spec, arrow_text=True)
    text_columns = [c for c, t in plain.valid.dtypes.items() if t.kind == "O"]
    assert spec.id_name in text_columns and "contract" in text_columns
    assert all(arrow.valid[c].dtype == TEXT for c in text_columns)
    assert plain.valid["contract"].isna().any() and plain.valid["gender"].isna().any()
    # what every reader without a type mapper loads: the object table, None for missing
    pd.testing.assert_frame_equal(_round_trip(arrow.valid), _round_trip(plain.valid))
    pd.testing.assert_frame_equal(_round_trip(arrow.valid), plain.valid)
    pd.testing.assert_frame_equal(arrow.quarantined, plain.quarantined)
    assert arrow.report == plain.report
