"""The bootstrap intervals against a plain reference (README "Reliability: faults and mutation
testing"): the same resamples drawn one by one, each scored with scikit-learn, single-class
resamples skipped, the central percentile interval. Equal to 1e-12, defaults included, so a
change to any step (draws, seed, skipping, interval, counts) fails here."""

import warnings
from functools import lru_cache

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from churn_assets.ml.promotion import resampling
from churn_assets.ml.promotion.bootstrap import (
    bootstrap_auc_difference,
    bootstrap_auc_recall,
    bootstrap_metric_intervals,
)


def _holdout(n: int = 14, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    y[:3] = 1  # few positives: some resamples have a single class and are skipped
    a = np.round(rng.random(n), 2)  # rounded: ties between scores
    b = np.round(np.clip(a + rng.normal(0, 0.3, n), 0, 1), 2)
    return y, a, b


def _resamples(n_rows: int, n_resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_rows, size=(n_resamples, n_rows))


def _interval(values, confidence: float) -> tuple[float, float]:
    alpha = 1 - confidence
    return tuple(float(v) for v in np.quantile(values, [alpha / 2, 1 - alpha / 2]))


def _pairwise_auc(y, p) -> float:
    """ROC AUC by its definition: P(score of a positive > score of a negative), ties half."""
    pos, neg = p[y == 1][:, None], p[y == 0][None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


def _average_precision(y, p) -> float:
    """Average precision by its definition: sum over thresholds of (R_k - R_k-1) x P_k."""
    total, last_recall = 0.0, 0.0
    for t in np.unique(p)[::-1]:
        tp = int((y[p >= t] == 1).sum())
        recall, precision = tp / y.sum(), tp / int((p >= t).sum())
        total += (recall - last_recall) * precision
        last_recall = recall
    return total


def test_the_reference_definitions_agree_with_scikit_learn():
    y, a, _ = _holdout()
    for idx in _resamples(len(y), 20, 0):
        if len(set(y[idx])) == 2:
            assert _pairwise_auc(y[idx], a[idx]) == pytest.approx(roc_auc_score(y[idx], a[idx]))
            ap = average_precision_score(y[idx], a[idx])
            assert _average_precision(y[idx], a[idx]) == pytest.approx(ap)


@lru_cache  # the reference does not use the code under test: computed once per process
def _reference_difference(holdout_seed, n_resamples, seed, confidence):
    y, a, b = _holdout(seed=holdout_seed)
    diffs, skipped = [], 0
    for idx in _resamples(len(y), n_resamples, seed):
        if len(set(y[idx])) < 2:
            skipped += 1
            continue
        diffs.append(_pairwise_auc(y[idx], a[idx]) - _pairwise_auc(y[idx], b[idx]))
    return _interval(diffs, confidence), skipped


def test_the_paired_difference_equals_the_reference_with_its_defaults():
    y, a, b = _holdout()
    got = bootstrap_auc_difference(y, a, b)
    (low, high), skipped = _reference_difference(0, 2000, 42, 0.95)
    assert skipped > 0
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert got.skipped_resamples == skipped
    assert (got.n_resamples, got.confidence, got.n_rows) == (2000, 0.95, 14)
    auc_a, auc_b = roc_auc_score(y, a), roc_auc_score(y, b)
    assert (got.auc_challenger, got.auc_champion) == pytest.approx((auc_a, auc_b), abs=1e-12)
    assert got.diff == pytest.approx(auc_a - auc_b, abs=1e-12)


def test_the_paired_difference_follows_its_arguments():
    y, a, b = _holdout(seed=1)
    got = bootstrap_auc_difference(y, a, b, n_resamples=300, random_state=7, confidence=0.8)
    (low, high), skipped = _reference_difference(1, 300, 7, 0.8)
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert (got.skipped_resamples, got.n_resamples, got.confidence) == (skipped, 300, 0.8)


@pytest.mark.parametrize("chunk_rows", [7, 50])
def test_chunks_of_resamples_give_the_same_intervals_as_one_draw(monkeypatch, chunk_rows):
    y, a, b = _holdout(seed=2)
    monkeypatch.setattr(resampling, "_CHUNK_CELLS", chunk_rows * len(y))
    got = bootstrap_auc_difference(y, a, b, n_resamples=50, random_state=3)
    (low, high), skipped = _reference_difference(2, 50, 3, 0.95)
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert got.skipped_resamples == skipped
    ref = _reference_one_model(14, 2, 0.5, 50, 3, 0.95)
    got_one = bootstrap_metric_intervals(y, a, 0.5, n_resamples=50, random_state=3)
    assert got_one["f1"] == pytest.approx(ref["f1"], abs=1e-12)


def _seed_where_every_resample_has_one_class(y, n_resamples: int) -> int:
    for seed in range(10_000):
        if all(len(set(y[i])) < 2 for i in _resamples(len(y), n_resamples, seed)):
            return seed
    raise AssertionError("no such seed")


def test_only_single_class_resamples_is_an_error_that_says_so():
    y = np.array([1] + [0] * 30)
    p = np.linspace(0, 1, 31)
    seed = _seed_where_every_resample_has_one_class(y, 2)
    with pytest.raises(ValueError) as raised:
        bootstrap_auc_difference(y, p, p[::-1], n_resamples=2, random_state=seed)
    assert str(raised.value) == (
        "all 2 bootstrap resamples had a single class; the holdout has too few rows of the "
        "minority class to compare AUCs"
    )
    for one_model in (bootstrap_metric_intervals, bootstrap_auc_recall):
        with pytest.raises(ValueError) as raised:
            one_model(y, p, 0.5, n_resamples=2, random_state=seed)
        assert str(raised.value) == "all 2 bootstrap resamples had a single class"


@lru_cache
def _reference_one_model(n, holdout_seed, threshold, n_resamples, seed, confidence):
    y, p, _ = _holdout(n=n, seed=holdout_seed)
    pred = (p >= threshold).astype(int)
    rows = [i for i in _resamples(len(y), n_resamples, seed) if len(set(y[i])) == 2]
    auc = [_pairwise_auc(y[i], p[i]) for i in rows]
    ap = [_average_precision(y[i], p[i]) for i in rows]
    tp = [int((y[i] & pred[i]).sum()) for i in rows]
    f1 = [2 * t / (pred[i].sum() + y[i].sum()) for t, i in zip(tp, rows, strict=True)]
    recall = [t / y[i].sum() for t, i in zip(tp, rows, strict=True)]
    return {
        "roc_auc": _interval(auc, confidence),
        "pr_auc": _interval(ap, confidence),
        "f1": _interval(f1, confidence),
        "recall": _interval(recall, confidence),
    }


def test_one_models_intervals_equal_the_reference_with_their_defaults():
    y, a, _ = _holdout(seed=4)
    ref = _reference_one_model(14, 4, 0.5, 1000, 42, 0.95)
    got = bootstrap_metric_intervals(y, a, 0.5)
    assert set(got) == {"roc_auc", "pr_auc", "f1"}
    for name in got:
        assert got[name] == pytest.approx(ref[name], abs=1e-12), name
    pair = bootstrap_auc_recall(y, a, 0.5)
    assert set(pair) == {"roc_auc", "recall"}
    for name in pair:
        assert pair[name] == pytest.approx(ref[name], abs=1e-12), name


@pytest.mark.parametrize("threshold", [0.3, 0.71, "a score"])
def test_one_models_intervals_follow_their_arguments(threshold):
    y, a, _ = _holdout(n=20, seed=5)
    if threshold == "a score":  # a score equal to the threshold counts as predicted churn
        threshold = float(a[y == 1][0])
    ref = _reference_one_model(20, 5, threshold, 200, 9, 0.8)
    got = bootstrap_metric_intervals(
        y, a, threshold, n_resamples=200, random_state=9, confidence=0.8
    )
    pair = bootstrap_auc_recall(y, a, threshold, n_resamples=200, random_state=9, confidence=0.8)
    for name, value in {**got, **pair}.items():
        assert value == pytest.approx(ref[name], abs=1e-12), name


def test_bad_resampling_arguments_are_refused_by_every_bootstrap():
    y, a, b = _holdout()
    with pytest.raises(ValueError, match="^n_resamples must be >= 1, got 0$"):
        bootstrap_auc_difference(y, a, b, n_resamples=0)
    for one_model in (bootstrap_metric_intervals, bootstrap_auc_recall):
        with pytest.raises(ValueError, match="^confidence must be between 0 and 1, got 1.0$"):
            one_model(y, a, 0.5, confidence=1.0)


def test_the_comparison_serialises_every_field():
    y, a, b = _holdout()
    got = bootstrap_auc_difference(y, a, b, n_resamples=20)
    assert got.to_dict() == {
        "auc_challenger": got.auc_challenger,
        "auc_champion": got.auc_champion,
        "diff": got.diff,
        "ci_low": got.ci_low,
        "ci_high": got.ci_high,
        "n_resamples": 20,
        "skipped_resamples": got.skipped_resamples,
        "confidence": 0.95,
        "n_rows": 14,
    }


def test_single_class_resamples_leave_no_runtime_warning_in_the_f1_interval():
    # Resamples without a positive where nothing is predicted have F1 0/0: skipped, silently.
    y, a, _ = _holdout(seed=4)
    skipped = [i for i in _resamples(len(y), 200, 42) if y[i].sum() == 0]
    assert skipped  # the case is there
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 0/0 must not print RuntimeWarnings into run logs
        got = bootstrap_metric_intervals(y, a, threshold=2.0, n_resamples=200)
    assert got["f1"] == (0.0, 0.0)
