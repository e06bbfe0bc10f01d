"""Per-segment quality checked against scikit-learn on a hand-built frame."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import recall_score, roc_auc_score

from churn_assets.ml.evaluation.segments import label_frame, segment_labels, segment_metrics
from churn_assets.ml.spec_decisions import SegmentSpec

THRESHOLD = 0.5


@pytest.fixture(scope="module")
def holdout():
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            # "b" is small (20 rows), "c" has no churner; "a" and "d" are ordinary
            "contract": np.r_[["a"] * 200, ["b"] * 20, ["c"] * 60, ["d"] * 120],
            "tenure": rng.uniform(0, 60, n),
        }
    )
    y = rng.integers(0, 2, n)
    y[220:280] = 0
    frame.loc[5, "tenure"] = np.nan
    proba = np.clip(0.35 * y + rng.uniform(0, 0.65, n), 0, 1)
    return frame, y, proba


def test_labels_of_values_ranges_and_missing():
    values = pd.Series([3.0, 12.0, 23.9, 24.0, np.nan, 100.0])
    labels = segment_labels(values, SegmentSpec(column="t", bins=(12, 24)))
    assert labels.tolist() == ["<12", "12 to <24", "12 to <24", ">=24", "missing", ">=24"]
    flags = segment_labels(pd.Series([0.0, 1.0, None]), SegmentSpec(column="f"))
    assert flags.tolist() == ["0", "1", "missing"]


def test_numbers_match_sklearn_per_segment(holdout):
    frame, y, proba = holdout
    segments = [SegmentSpec(column="contract"), SegmentSpec(column="tenure", bins=(20, 40))]
    table = segment_metrics(y, proba, THRESHOLD, label_frame(frame, segments), n_resamples=300)
    by = table.set_index(["segment", "value"])
    for value in ("a", "d"):
        mask = frame["contract"].to_numpy() == value
        row = by.loc[("contract", value)]
        assert row["rows"] == mask.sum()
        assert row["churn_rate"] == pytest.approx(y[mask].mean())
        assert row["roc_auc"] == pytest.approx(roc_auc_score(y[mask], proba[mask]))
        assert row["recall"] == pytest.approx(
            recall_score(y[mask], (proba[mask] >= THRESHOLD).astype(int))
        )
        assert row["roc_auc_low"] < row["roc_auc"] < row["roc_auc_high"]
        assert row["recall_low"] <= row["recall"] <= row["recall_high"]
        assert row["note"] == ""
    tenure = frame["tenure"].to_numpy()
    middle = (tenure >= 20) & (tenure < 40)
    row = by.loc[("tenure", "20 to <40")]
    assert row["rows"] == middle.sum()
    assert row["roc_auc"] == pytest.approx(roc_auc_score(y[middle], proba[middle]))
    assert by.loc[("tenure", "missing")]["rows"] == 1
    assert by.loc[("contract",)]["rows"].sum() == len(frame)


def test_small_and_single_class_segments_say_so_instead_of_a_number(holdout):
    frame, y, proba = holdout
    labels = label_frame(frame, [SegmentSpec(column="contract")])
    by = segment_metrics(y, proba, THRESHOLD, labels, n_resamples=200).set_index("value")
    assert np.isnan(by.loc["b", "roc_auc"]) and np.isnan(by.loc["b", "recall"])
    assert by.loc["b", "note"] == "too few rows (20 < 30): no AUC or recall"
    assert np.isnan(by.loc["c", "roc_auc"])
    assert by.loc["c", "note"] == "no churners: ROC AUC and recall undefined"
    assert by.loc["c", "churn_rate"] == 0.0


def test_only_churners_gives_recall_but_no_auc():
    labels = pd.DataFrame({"s": ["x"] * 40})
    proba = np.linspace(0.1, 0.9, 40)
    row = segment_metrics(np.ones(40, int), proba, 0.5, labels, n_resamples=100).iloc[0]
    assert np.isnan(row["roc_auc"]) and row["note"] == "only churners: ROC AUC undefined"
    assert row["recall"] == pytest.approx((proba >= 0.5).mean())


def test_intervals_are_seeded_and_mismatched_lengths_refused(holdout):
    frame, y, proba = holdout
    labels = label_frame(frame, [SegmentSpec(column="contract")])
    first = segment_metrics(y, proba, THRESHOLD, labels, n_resamples=200, random_state=3)
    again = segment_metrics(y, proba, THRESHOLD, labels, n_resamples=200, random_state=3)
    pd.testing.assert_frame_equal(first, again)
    with pytest.raises(ValueError, match="must match"):
        segment_metrics(y[:-1], proba[:-1], THRESHOLD, labels)
