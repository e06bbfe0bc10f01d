"""The bootstrap's vectorised pieces (ml/promotion/resampling.py), each against its definition:
written to kill the mutants the promotion tests let live (README "Faults and mutation testing")."""

import warnings

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from churn_assets.ml.promotion import resampling
from churn_assets.ml.promotion.resampling import (
    check_resampling,
    interval,
    labels_and_scores,
    rank_auc,
    resample_chunks,
)


def test_one_resample_and_any_confidence_strictly_inside_0_1_are_accepted():
    check_resampling(1, 0.5)
    check_resampling(1, 1e-9)
    check_resampling(1, 1 - 1e-9)


@pytest.mark.parametrize(
    ("n", "confidence", "message"),
    [
        (0, 0.95, "n_resamples must be >= 1, got 0"),
        (1, 0.0, "confidence must be between 0 and 1, got 0.0"),
        (1, 1.0, "confidence must be between 0 and 1, got 1.0"),
    ],
)
def test_resampling_outside_its_range_is_refused_by_name(n, confidence, message):
    with pytest.raises(ValueError) as raised:
        check_resampling(n, confidence)
    assert str(raised.value) == message


def test_chunks_hold_exactly_n_resamples_rows_of_valid_indices_seeded(monkeypatch):
    monkeypatch.setattr(resampling, "_CHUNK_CELLS", 100)
    chunks = list(resample_chunks(n_rows=30, n_resamples=10, random_state=3))
    assert [c.shape for c in chunks] == [(3, 30), (3, 30), (3, 30), (1, 30)]
    stacked = np.concatenate(chunks)
    assert stacked.min() >= 0 and stacked.max() <= 29 and stacked.max() == 29
    again = np.concatenate(list(resample_chunks(30, 10, 3)))
    assert np.array_equal(stacked, again)
    other = np.concatenate(list(resample_chunks(30, 10, 4)))
    assert not np.array_equal(stacked, other)


def test_more_rows_than_a_chunk_holds_still_gives_one_resample_per_chunk(monkeypatch):
    monkeypatch.setattr(resampling, "_CHUNK_CELLS", 10)
    chunks = list(resample_chunks(n_rows=50, n_resamples=3, random_state=0))
    assert [c.shape for c in chunks] == [(1, 50)] * 3


def test_rank_auc_equals_sklearn_with_ties_and_is_nan_without_both_classes():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=(4, 40))
    labels[3] = 1  # one class only
    scores = np.round(rng.random((4, 40)), 1)  # many ties
    auc = rank_auc(scores, labels, labels.sum(axis=1))
    for i in range(3):
        assert auc[i] == pytest.approx(roc_auc_score(labels[i], scores[i]), abs=1e-12)
    assert np.isnan(auc[3])
    labels[2] = 0
    assert np.isnan(rank_auc(scores, labels, labels.sum(axis=1))[2])


def test_interval_is_the_central_percentile_interval():
    values = np.arange(101, dtype=float)
    assert interval(values, 0.9) == pytest.approx((5.0, 95.0), abs=1e-9)
    assert interval(values, 0.5) == pytest.approx((25.0, 75.0), abs=1e-9)


def test_labels_come_back_as_int8_and_scores_as_floats():
    labels, (a, b) = labels_and_scores([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3], [1, 0, 1, 0])
    assert labels.dtype == np.int8 and labels.tolist() == [0, 1, 1, 0]
    assert a.dtype.kind == "f" and b.tolist() == [1.0, 0.0, 1.0, 0.0]
    with pytest.raises(ValueError):
        labels_and_scores([1, 1, 1], [0.1, 0.2, 0.3])


def test_rank_auc_is_defined_with_a_single_row_of_either_class():
    # one negative (then one positive) among the rows: the AUC exists and equals scikit-learn's
    scores = np.array([[0.9, 0.8, 0.1, 0.7], [0.2, 0.3, 0.95, 0.4]])
    labels = np.array([[1, 1, 0, 1], [0, 0, 1, 0]], dtype=np.int8)
    got = rank_auc(scores, labels, labels.sum(axis=1).astype(float))
    expected = [roc_auc_score(labels[i], scores[i]) for i in range(2)]
    assert got == pytest.approx(expected)


def test_rank_auc_of_a_single_class_row_is_nan_without_a_warning():
    scores = np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]])
    labels = np.array([[0, 0, 0], [1, 1, 1]], dtype=np.int8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0/0 must not print RuntimeWarnings into run logs
        got = rank_auc(scores, labels, labels.sum(axis=1).astype(float))
    assert np.isnan(got).all()
