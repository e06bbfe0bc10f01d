"""The vectorised pieces of the paired bootstrap: input checks, resample chunks, rank AUC.

AUC per resample is computed from ranks (the Mann-Whitney statistic, ties counted one half),
which equals `sklearn.metrics.roc_auc_score` and is vectorised over resamples with
`scipy.stats.rankdata(axis=1)`, in chunks so memory stays bounded on large holdouts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy.stats import rankdata

from churn_assets.ml.evaluation.metrics import binary_inputs

# Bootstrap work is done in chunks of about this many (resample x row) cells (~16 MB of floats).
_CHUNK_CELLS = 2_000_000


def labels_and_scores(y_true: Any, *scores: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """Check 0/1 labels with both classes and each score array against them (`binary_inputs`).

    Returns the labels as int8 and the scores as float arrays. Raises ValueError naming the fault.
    """
    checked = [binary_inputs(y_true, s) for s in scores]
    return checked[0][0].astype(np.int8), [p for _, p in checked]


def check_resampling(n_resamples: int, confidence: float) -> None:
    """Raise ValueError for fewer than one resample or a confidence outside (0, 1)."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def resample_chunks(n_rows: int, n_resamples: int, random_state: int) -> Iterator[np.ndarray]:
    """Yield (chunk, n_rows) index arrays drawn with replacement, `n_resamples` rows in all."""
    rng = np.random.default_rng(random_state)
    chunk = max(1, _CHUNK_CELLS // n_rows)
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        yield rng.integers(0, n_rows, size=(size, n_rows))
        done += size


def rank_auc(scores: np.ndarray, labels: np.ndarray, n_pos: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of `scores` (resamples x rows); NaN where a class is absent."""
    ranks = rankdata(scores, axis=1)
    n_neg = labels.shape[1] - n_pos
    rank_sum = (ranks * labels).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central percentile interval of `values` with coverage `confidence`."""
    alpha = 1.0 - confidence
    low, high = np.quantile(values, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)
