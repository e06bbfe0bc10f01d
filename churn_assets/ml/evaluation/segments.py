"""Model quality per segment: rows, churn rate, ROC AUC and recall at the threshold, by slice.

A segment is one value of a column the spec names (`contract = Month-to-month`), or one range of
a numeric column cut at the spec's `bins` (`tenure: 12 to <24`). Missing values are their own
segment (`missing`). A segment with fewer than `min_rows` rows, or without both classes, gets
no AUC: its `note` says why instead of a number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import recall_score, roc_auc_score

from churn_assets.ml.drift.stats import category_key
from churn_assets.ml.promotion.bootstrap import bootstrap_auc_recall
from churn_assets.ml.spec import SpecError
from churn_assets.ml.spec_decisions import SegmentSpec

MAX_SEGMENT_VALUES = 20  # a numeric column with more distinct values needs bins
MIN_SEGMENT_ROWS = 30  # fewer rows: no AUC or recall, the note says so
MISSING = "missing"
COLUMNS = [
    "segment",
    "value",
    "rows",
    "churners",
    "churn_rate",
    "roc_auc",
    "roc_auc_low",
    "roc_auc_high",
    "recall",
    "recall_low",
    "recall_high",
    "note",
]


def segments_from_records(records: Iterable[dict] | None) -> tuple[SegmentSpec, ...]:
    """Segments from their JSON form (`{"column": ..., "bins": [...] | None}`), as stored in
    the `feature_spec` record."""
    return tuple(SegmentSpec.model_validate(r) for r in records or ())


def check_segments(
    segments: Sequence[SegmentSpec], inputs: Sequence[str], numeric: Sequence[str]
) -> None:
    """Check the spec's segments against the model's input columns (no rows needed).

    Raises:
        SpecError: a segment that is not a model input column, or bins on a non-numeric column.
    """
    for segment in segments:
        col = segment.column
        if col not in inputs:
            raise SpecError(
                f"segment '{col}' is not an input column of the model (inputs: {list(inputs)}); "
                "fix the name under `segments` in the dataset spec"
            )
        if segment.bins is not None and col not in numeric:
            raise SpecError(
                f"segment '{col}' has bins but is not numeric; remove its bins, every value "
                "of a categorical column is its own segment"
            )


def check_segment_values(feature_spec: dict, frame: pd.DataFrame) -> None:
    """Check that each numeric segment without bins has few distinct values in `frame`.

    Raises:
        SpecError: a numeric segment column with more than `MAX_SEGMENT_VALUES` distinct values
            and no bins, naming the column, the count and the fix.
    """
    numeric = set(feature_spec.get("numeric", ()))
    for segment in segments_from_records(feature_spec.get("segments")):
        col = segment.column
        if segment.bins is None and col in numeric and col in frame.columns:
            distinct = int(frame[col].nunique(dropna=True))
            if distinct > MAX_SEGMENT_VALUES:
                raise SpecError(
                    f"segment '{col}' is numeric with {distinct} distinct values (at most "
                    f"{MAX_SEGMENT_VALUES} without bins); give cut points, e.g. "
                    f"segments: [{{column: {col}, bins: [...]}}]"
                )


def range_labels(bins: Sequence[float]) -> list[str]:
    edges = [f"{b:g}" for b in bins]
    middle = [f"{a} to <{b}" for a, b in zip(edges, edges[1:])]  # noqa: B905 - offset pairs
    return [f"<{edges[0]}", *middle, f">={edges[-1]}"]


def segment_labels(values: pd.Series, segment: SegmentSpec) -> pd.Series:
    """The segment label of each row: the value (as `category_key`), its range, or `missing`."""
    if segment.bins is None:
        labels = values.map(category_key, na_action="ignore")
        return labels.where(values.notna(), MISSING).astype(object)
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    codes = np.searchsorted(np.asarray(segment.bins, dtype=float), numbers, side="right")
    names = np.asarray(range_labels(segment.bins), dtype=object)
    labels = names[np.minimum(codes, len(names) - 1)]
    return pd.Series(np.where(numbers.isna(), MISSING, labels), index=values.index, dtype=object)


def label_frame(frame: pd.DataFrame, segments: Sequence[SegmentSpec]) -> pd.DataFrame:
    """One column of segment labels per segment, aligned with `frame`'s rows."""
    return pd.DataFrame(
        {s.column: segment_labels(frame[s.column], s) for s in segments}, index=frame.index
    )


def _one_segment(y, p, threshold, min_rows, bootstrap) -> dict[str, Any]:
    rows, churners = len(y), int(y.sum())
    out: dict[str, Any] = {"rows": rows, "churners": churners, "churn_rate": churners / rows}
    if rows < min_rows:
        return {**out, "note": f"too few rows ({rows} < {min_rows}): no AUC or recall"}
    if churners == 0:
        return {**out, "note": "no churners: ROC AUC and recall undefined"}
    out["recall"] = float(recall_score(y, (p >= threshold).astype(int)))
    if churners == rows:
        return {**out, "note": "only churners: ROC AUC undefined"}
    out["roc_auc"] = float(roc_auc_score(y, p))
    ci = bootstrap_auc_recall(y, p, threshold, **bootstrap)
    out["roc_auc_low"], out["roc_auc_high"] = ci["roc_auc"]
    out["recall_low"], out["recall_high"] = ci["recall"]
    return {**out, "note": ""}


def segment_metrics(
    y_true: Any,
    proba: Any,
    threshold: float,
    labels: pd.DataFrame,
    min_rows: int = MIN_SEGMENT_ROWS,
    n_resamples: int = 1000,
    random_state: int = 42,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per-segment quality of one model on labelled rows.

    Args:
        y_true: 0/1 labels.
        proba: churn probabilities of the same rows.
        threshold: decision threshold (recall counts churners with proba >= threshold).
        labels: `label_frame` of the same rows (one column per segment).
        min_rows: segments smaller than this get a note instead of AUC and recall.
        n_resamples, random_state, confidence: the bootstrap of the intervals.

    Returns:
        One row per (segment, value) with `COLUMNS`; undefined numbers are NaN with a `note`.

    Raises:
        ValueError: when labels, scores and segment labels do not have the same length.
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(proba, dtype=float)
    if not len(y) == len(p) == len(labels):
        raise ValueError(
            f"{len(y)} labels, {len(p)} scores and {len(labels)} segment rows must match"
        )
    bootstrap = {
        "n_resamples": n_resamples,
        "random_state": random_state,
        "confidence": confidence,
    }
    rows = []
    for column in labels.columns:
        codes = labels[column].to_numpy()
        for value in sorted(pd.unique(codes), key=str):
            mask = codes == value
            stats = _one_segment(y[mask], p[mask], threshold, min_rows, bootstrap)
            rows.append({"segment": column, "value": str(value), **stats})
    return pd.DataFrame(rows, columns=COLUMNS)


def _with_interval(value: float, low: float, high: float) -> str:
    if pd.isna(value):
        return ""
    return f"{value:.3f}" if pd.isna(low) else f"{value:.3f} [{low:.3f}, {high:.3f}]"


def segments_markdown(table: pd.DataFrame, confidence: float = 0.95) -> str:
    """The per-segment table as markdown: AUC and recall with intervals, or the note."""
    pct = f"{confidence:.0%}"
    lines = [
        f"| segment | value | rows | churn rate | ROC AUC [{pct}] | recall [{pct}] | note |",
        "|---|---|---:|---:|---|---|---|",
    ]
    for r in table.to_dict("records"):
        auc = _with_interval(r["roc_auc"], r["roc_auc_low"], r["roc_auc_high"])
        recall = _with_interval(r["recall"], r["recall_low"], r["recall_high"])
        lines.append(
            f"| {r['segment']} | {r['value']} | {r['rows']} | {r['churn_rate']:.1%} | "
            f"{auc} | {recall} | {r['note']} |"
        )
    return "\n".join(lines)


def holdout_segments(feature_spec: dict, frame: pd.DataFrame) -> pd.DataFrame | None:
    """`label_frame` of the segments in a `feature_spec` record, or None when it names none."""
    segments = segments_from_records(feature_spec.get("segments"))
    return label_frame(frame, segments) if segments else None


def labels_for_ids(
    batch: pd.DataFrame, ids: pd.Series, segments: Sequence[SegmentSpec], id_column: str
) -> pd.DataFrame:
    """Segment labels of the `batch` rows with the given `ids` (in their order; ids compared as
    text, as the outcomes join does). Segments whose column the batch lacks are left out."""
    present = [s for s in segments if s.column in batch.columns]
    keys = batch[id_column].astype("string").str.strip()
    rows = batch.set_index(keys)[[s.column for s in present]]
    rows = rows[~rows.index.duplicated(keep="last")]
    picked = rows.reindex(pd.Index(ids.astype("string").str.strip())).reset_index(drop=True)
    return label_frame(picked, present)
