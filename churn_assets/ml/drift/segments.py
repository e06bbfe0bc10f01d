"""Per-segment drift summary: how a batch's mix of segments moved from training, and its scores.

For each value of each spec segment: the share of the batch's rows against the share of the
training reference's rows (from the reference's stored values and counts, so no training rows are
re-read), the change in percentage points, the batch's mean score and predicted-churner share
there, and the realized churn rate when the batch carries labels. A segment's population index
(PSI of the mix, the same formula as the per-feature PSI) says whether the mix moved as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churn_assets.ml.drift.reference import ColumnReference, DriftReference
from churn_assets.ml.drift.stats import category_key
from churn_assets.ml.evaluation.segments import MISSING, range_labels, segment_labels
from churn_assets.ml.spec_decisions import SegmentSpec

_EPS = 1e-4  # PSI floor for empty bins, as in the per-feature PSI


def _reference_counts(ref: ColumnReference, segment: SegmentSpec) -> dict[str, int]:
    if ref.counts is not None:
        counts = dict(ref.counts)
    elif segment.bins is not None:
        codes = np.searchsorted(np.asarray(segment.bins, float), ref.values, side="right")
        names = range_labels(segment.bins)
        found = np.bincount(codes, minlength=len(names))
        counts = {n: int(c) for n, c in zip(names, found) if c}  # noqa: B905 - same length
    else:
        uniques, found = np.unique(ref.values, return_counts=True)
        counts = {category_key(u): int(c) for u, c in zip(uniques, found)}  # noqa: B905
    if ref.n_missing:
        counts[MISSING] = counts.get(MISSING, 0) + ref.n_missing
    return counts


def segment_drift(
    reference: DriftReference,
    current: pd.DataFrame,
    segments: Sequence[SegmentSpec],
    score: str,
    predicted: str | None = None,
    target: str | None = None,
) -> pd.DataFrame:
    """The per-segment drift summary of one batch.

    Args:
        reference: the training reference (`DriftReference`).
        current: the batch with its score column (and `predicted`/`target` when given).
        segments: the spec's segments; one missing from the batch or the reference is skipped.
        score: the churn probability column.
        predicted: the 0/1 decision column, if present.
        target: the 0/1 label column, if the batch is labelled.

    Returns:
        One row per (segment, value): `rows`, `share`, `reference_share`, `change_pp`,
        `mean_score`, `predicted_share`, `churn_rate` and the segment's `mix_psi`.
    """
    rows = []
    for segment in segments:
        col = segment.column
        if col not in current.columns or col not in reference.columns:
            continue
        ref_counts = _reference_counts(reference.columns[col], segment)
        ref_total = max(sum(ref_counts.values()), 1)
        labels = segment_labels(current[col], segment)
        values = sorted(set(ref_counts) | set(labels.unique()), key=str)
        share = labels.value_counts(normalize=True)
        part = []
        for value in values:
            mask = (labels == value).to_numpy()
            batch = current.loc[mask]
            part.append(
                {
                    "segment": col,
                    "value": value,
                    "rows": int(mask.sum()),
                    "share": float(share.get(value, 0.0)),
                    "reference_share": ref_counts.get(value, 0) / ref_total,
                    "mean_score": float(batch[score].mean()) if len(batch) else np.nan,
                    "predicted_share": _mean(batch, predicted),
                    "churn_rate": _mean(batch, target),
                }
            )
        new = np.clip([r["share"] for r in part], _EPS, None)
        old = np.clip([r["reference_share"] for r in part], _EPS, None)
        psi = float(np.sum((new - old) * np.log(new / old)))
        rows += [
            {**r, "change_pp": 100 * (r["share"] - r["reference_share"]), "mix_psi": psi}
            for r in part
        ]
    columns = ["segment", "value", "rows", "share", "reference_share", "change_pp"]
    columns += ["mean_score", "predicted_share", "churn_rate", "mix_psi"]
    return pd.DataFrame(rows, columns=columns)


def _mean(frame: pd.DataFrame, column: str | None) -> float:
    if column is None or column not in frame.columns or frame[column].notna().sum() == 0:
        return np.nan
    return float(pd.to_numeric(frame[column], errors="coerce").mean())
