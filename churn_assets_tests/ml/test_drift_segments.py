"""Per-segment drift summary: shares against the training reference, scores per segment."""

import numpy as np
import pandas as pd
import pytest

from churn_assets.ml.drift.reference import build_reference
from churn_assets.ml.drift.segments import segment_drift
from churn_assets.ml.spec_decisions import SegmentSpec

SEGMENTS = [SegmentSpec(column="contract"), SegmentSpec(column="tenure", bins=(12, 24))]


@pytest.fixture()
def frames():
    training = pd.DataFrame(
        {
            "contract": ["m"] * 60 + ["y"] * 40,
            "tenure": [5.0] * 30 + [15.0] * 30 + [30.0] * 39 + [np.nan],
            "p": np.linspace(0, 1, 100),
        }
    )
    batch = pd.DataFrame(
        {
            "contract": ["m"] * 90 + ["y"] * 10,
            "tenure": [5.0] * 50 + [30.0] * 50,
            "p": [0.8] * 90 + [0.2] * 10,
            "pred": [1] * 90 + [0] * 10,
            "y": [1] * 45 + [0] * 55,
        }
    )
    reference = build_reference(training, ["tenure"], ["contract"], score_column="p")
    return reference, batch


def test_shares_scores_and_labels_per_segment(frames):
    reference, batch = frames
    table = segment_drift(reference, batch, SEGMENTS, "p", "pred", "y")
    by = table.set_index(["segment", "value"])
    assert by.loc[("contract", "m"), "share"] == pytest.approx(0.9)
    assert by.loc[("contract", "m"), "reference_share"] == pytest.approx(0.6)
    assert by.loc[("contract", "m"), "change_pp"] == pytest.approx(30.0)
    assert by.loc[("contract", "y"), "mean_score"] == pytest.approx(0.2)
    assert by.loc[("contract", "m"), "predicted_share"] == pytest.approx(1.0)
    assert by.loc[("contract", "m"), "churn_rate"] == pytest.approx(0.5)
    # ranges from the reference's sorted values; its one missing value is its own segment
    assert by.loc[("tenure", "12 to <24"), "reference_share"] == pytest.approx(0.30)
    assert by.loc[("tenure", "12 to <24"), "rows"] == 0
    assert by.loc[("tenure", "missing"), "reference_share"] == pytest.approx(0.01)
    psi = by.loc[("contract", "m"), "mix_psi"]
    expected = (0.9 - 0.6) * np.log(0.9 / 0.6) + (0.1 - 0.4) * np.log(0.1 / 0.4)
    assert psi == pytest.approx(expected)


def test_an_unchanged_mix_has_zero_psi_and_a_missing_column_is_skipped(frames):
    reference, _ = frames
    same = pd.DataFrame({"contract": ["m"] * 6 + ["y"] * 4, "p": 0.5})
    table = segment_drift(reference, same, SEGMENTS, "p")
    assert set(table["segment"]) == {"contract"}  # no tenure in the batch
    assert table["mix_psi"].iloc[0] == pytest.approx(0.0)
    assert table["churn_rate"].isna().all()
