"""Bootstrap intervals: the paired champion/challenger AUC difference and one model's metrics.

A challenger is compared with the champion on the same holdout rows: both models' ROC AUC are
computed on the same bootstrap resamples, so the interval is of the paired difference and the
noise shared by both models (which rows happen to be in the holdout) cancels out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from churn_assets.ml.promotion.resampling import (
    check_resampling,
    interval,
    labels_and_scores,
    rank_auc,
    resample_chunks,
)


@dataclass(frozen=True)
class AucComparison:
    """Paired bootstrap comparison of two models' ROC AUC on the same rows.

    `diff` is `auc_challenger - auc_champion` on all rows; `ci_low`/`ci_high` are the
    percentile interval of the resampled differences at `confidence`; `skipped_resamples`
    counts resamples with a single class (AUC undefined), which are left out.
    """

    auc_challenger: float
    auc_champion: float
    diff: float
    ci_low: float
    ci_high: float
    n_resamples: int
    skipped_resamples: int
    confidence: float = 0.95
    n_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-able dict."""
        return asdict(self)


def bootstrap_auc_difference(
    y_true: Any,
    proba_challenger: Any,
    proba_champion: Any,
    n_resamples: int = 2000,
    random_state: int = 42,
    confidence: float = 0.95,
) -> AucComparison:
    """Paired bootstrap interval of `AUC(challenger) - AUC(champion)` on the same holdout.

    Each resample draws row indices with replacement and scores both models on those same rows.
    Resamples with a single class are skipped and counted.

    Args:
        y_true: 0/1 holdout labels.
        proba_challenger: challenger churn probabilities for those rows.
        proba_champion: champion churn probabilities for the same rows.
        n_resamples: bootstrap resamples drawn (including any skipped).
        random_state: seed of the resampling.
        confidence: coverage of the percentile interval.

    Returns:
        An `AucComparison`.

    Raises:
        ValueError: mismatched shapes, NaN probabilities, non-0/1 or single-class labels, bad
            `n_resamples`/`confidence`, or every resample had a single class.
    """
    check_resampling(n_resamples, confidence)
    y, (challenger, champion) = labels_and_scores(y_true, proba_challenger, proba_champion)
    diffs = []
    for idx in resample_chunks(len(y), n_resamples, random_state):
        labels = y[idx]
        n_pos = labels.sum(axis=1, dtype=np.int64).astype(float)
        diffs.append(
            rank_auc(challenger[idx], labels, n_pos) - rank_auc(champion[idx], labels, n_pos)
        )
    all_diffs = np.concatenate(diffs)
    valid = all_diffs[~np.isnan(all_diffs)]
    if valid.size == 0:
        raise ValueError(
            f"all {n_resamples} bootstrap resamples had a single class; the holdout has too "
            "few rows of the minority class to compare AUCs"
        )
    ci_low, ci_high = interval(valid, confidence)
    auc_challenger = float(roc_auc_score(y, challenger))
    auc_champion = float(roc_auc_score(y, champion))
    return AucComparison(
        auc_challenger=auc_challenger,
        auc_champion=auc_champion,
        diff=auc_challenger - auc_champion,
        ci_low=ci_low,
        ci_high=ci_high,
        n_resamples=n_resamples,
        skipped_resamples=int(all_diffs.size - valid.size),
        confidence=confidence,
        n_rows=len(y),
    )


def bootstrap_metric_intervals(
    y_true: Any,
    proba: Any,
    threshold: float,
    n_resamples: int = 1000,
    random_state: int = 42,
    confidence: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of `roc_auc`, `pr_auc` and `f1` of one model.

    F1 uses the fixed `threshold` (predict churn when probability >= threshold). Resamples with
    a single class are skipped.

    Args:
        y_true: 0/1 holdout labels.
        proba: churn probabilities for those rows.
        threshold: the decision threshold.
        n_resamples: bootstrap resamples drawn.
        random_state: seed of the resampling.
        confidence: coverage of the intervals.

    Returns:
        `{"roc_auc": (low, high), "pr_auc": (low, high), "f1": (low, high)}`.

    Raises:
        ValueError: on invalid inputs or when every resample had a single class.
    """
    check_resampling(n_resamples, confidence)
    y, (p,) = labels_and_scores(y_true, proba)
    predicted = (p >= threshold).astype(np.int8)
    aucs, aps, f1s = [], [], []
    for idx in resample_chunks(len(y), n_resamples, random_state):
        labels = y[idx]
        n_pos = labels.sum(axis=1, dtype=np.int64).astype(float)
        auc = rank_auc(p[idx], labels, n_pos)
        valid = ~np.isnan(auc)
        pred = predicted[idx]
        tp = (labels & pred).sum(axis=1, dtype=np.int64)
        fp = pred.sum(axis=1, dtype=np.int64) - tp
        fn = n_pos - tp
        denom = 2 * tp + fp + fn
        f1 = np.divide(2.0 * tp, denom, out=np.zeros(len(idx)), where=denom > 0)
        aucs.append(auc[valid])
        f1s.append(f1[valid])
        # Average precision has no cheap rank form with ties; sklearn per resample is fast enough.
        aps.extend(average_precision_score(labels[i], p[idx[i]]) for i in np.flatnonzero(valid))
    all_aucs = np.concatenate(aucs)
    if all_aucs.size == 0:
        raise ValueError(f"all {n_resamples} bootstrap resamples had a single class")
    return {
        "roc_auc": interval(all_aucs, confidence),
        "pr_auc": interval(np.asarray(aps, dtype=float), confidence),
        "f1": interval(np.concatenate(f1s), confidence),
    }


def bootstrap_auc_recall(
    y_true: Any,
    proba: Any,
    threshold: float,
    n_resamples: int = 1000,
    random_state: int = 42,
    confidence: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of ROC AUC and of recall at `threshold` of one model.

    The cheap pair a per-segment report needs (no average precision, which has no rank form).
    Resamples with a single class are skipped.

    Returns:
        `{"roc_auc": (low, high), "recall": (low, high)}`.

    Raises:
        ValueError: on invalid inputs or when every resample had a single class.
    """
    check_resampling(n_resamples, confidence)
    y, (p,) = labels_and_scores(y_true, proba)
    predicted = (p >= threshold).astype(np.int8)
    aucs, recalls = [], []
    for idx in resample_chunks(len(y), n_resamples, random_state):
        labels = y[idx]
        n_pos = labels.sum(axis=1, dtype=np.int64).astype(float)
        auc = rank_auc(p[idx], labels, n_pos)
        valid = ~np.isnan(auc)
        tp = (labels & predicted[idx]).sum(axis=1, dtype=np.int64)
        aucs.append(auc[valid])
        recalls.append(tp[valid] / n_pos[valid])
    all_aucs = np.concatenate(aucs)
    if all_aucs.size == 0:
        raise ValueError(f"all {n_resamples} bootstrap resamples had a single class")
    return {
        "roc_auc": interval(all_aucs, confidence),
        "recall": interval(np.concatenate(recalls), confidence),
    }
