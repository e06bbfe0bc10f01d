"""The edits occlusion makes to a design matrix (see `ml/explain_design.py`).

For each raw column set to its baseline: which entries of an explained row's design matrix
change, and to what. A column-wise block (imputers, scalers, encoders) maps the baseline to one
constant vector, found by a probe transform; any other block the column reaches is recomputed
for the occluded rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

if TYPE_CHECKING:
    from churn_assets.ml.explain_design import Design

# Transformers whose every output column depends on one input column only.
COLUMN_WISE = (
    SimpleImputer,
    StandardScaler,
    OneHotEncoder,
    OrdinalEncoder,
    MinMaxScaler,
    MaxAbsScaler,
    RobustScaler,
)


def column_wise(transformer) -> bool:
    """True when each output column of `transformer` depends on one input column only."""
    if transformer == "passthrough":
        return True
    if isinstance(transformer, FunctionTransformer):  # a fitted 'passthrough' is one
        return transformer.func is None
    if isinstance(transformer, Pipeline):
        return all(column_wise(step) for _, step in transformer.steps)
    return type(transformer) in COLUMN_WISE


Edit = tuple[np.ndarray, np.ndarray]  # (design matrix column indices, new values)


def constant_edits(
    design: Design, X: pd.DataFrame, baseline: dict[str, object]
) -> dict[str, dict[int, Edit]]:
    """For each raw column that reaches only itself, and each column-wise block holding it: the
    block's output columns that change and the values they take when it is set to its baseline,
    the same for every row. Found by transforming, in one call per block, a probe of one row
    with the column set to each value it takes in `X` and to the baseline: the outputs that vary
    across the probe are the column's; the others are equal for every value, so never change."""
    out: dict[str, dict[int, Edit]] = {}
    first = design.transform(X.iloc[:1])[0] if len(X) else None
    for k, (transformer, cols, where) in enumerate(design.blocks):
        single = [c for c in X.columns if c in cols and design.reached(c) == {c}]
        if first is None or not single or not column_wise(transformer):
            continue
        frames, spans = [], {}
        for c in single:
            seen = pd.unique(X[c].to_numpy())  # keeps None apart from NaN
            values = np.concatenate([seen, seen[:1]])
            last = np.arange(len(values)) == len(values) - 1
            frame = first[cols].iloc[np.zeros(len(values), dtype=np.int64)].reset_index(drop=True)
            frame[c] = with_baseline(values, last, baseline[c])
            start = sum(len(f) for f in frames)
            spans[c] = (start, start + len(frame))
            frames.append(frame)
        probe = np.asarray(transformer_output(transformer, pd.concat(frames)))
        if probe.dtype.kind not in "biuf":  # text passed through: the generic method's case
            continue
        for c, (start, stop) in spans.items():
            rows = probe[start:stop]
            same = (rows == rows[0]) | (np.isnan(rows) & np.isnan(rows[0]))
            varying = np.flatnonzero(~same.all(axis=0))
            out.setdefault(c, {})[k] = (where.start + varying, rows[-1, varying])
    return out


def edits(
    design: Design,
    planned: dict[int, Edit],
    part: pd.DataFrame,
    engineered: pd.DataFrame,
    rows: np.ndarray,
    column: str,
    value: object,
) -> list[Edit]:
    """What occluding `column` (setting it to `value`) does to the design matrix of `part`'s
    `rows`: its `planned` constant edits (see `constant_edits`), and for every other block it
    reaches, either a constant edit (a column-wise block where one engineered column changes,
    to the same value in every occluded row: `tenure_bucket` when `tenure` is occluded) or the
    block recomputed for the occluded rows (one row of values per entry of `rows`)."""
    reached = design.reached(column)
    occluded = None  # the engineered frame of the occluded rows, built only when needed
    out = list(planned.values())
    for k, (transformer, cols, where) in enumerate(design.blocks):
        if k in planned or not reached.intersection(cols):
            continue
        if occluded is None:
            occluded = _occluded_engineered(design, part, rows, column, value)
        touched = [c for c in cols if c in reached]
        constant = _constant_edit(
            transformer, cols, where, engineered.iloc[rows], occluded, touched
        )
        if constant is not None:
            out.append(constant)
            continue
        new = np.asarray(transformer_output(transformer, occluded[cols]), dtype=float)
        out.append((np.arange(where.start, where.stop), new))
    return out


def _constant_edit(transformer, cols, where, before, after, touched) -> Edit | None:
    """The constant edit of a column-wise block when its one `touched` column takes the same
    value in every occluded row (`after`), else None. As in `constant_edits`: one row of
    `before` with that column set to each value it had and to the new one, transformed; the
    outputs that vary are the column's, and every occluded row gets the new value's."""
    if len(touched) != 1 or not column_wise(transformer):
        return None
    new = pd.unique(after[touched[0]].to_numpy())  # keeps None apart from NaN
    if len(new) != 1:
        return None
    seen = pd.unique(before[touched[0]].to_numpy())
    probe = before[cols].iloc[np.zeros(len(seen) + 1, dtype=np.int64)].reset_index(drop=True)
    probe[touched[0]] = np.concatenate([seen, new])  # a dtype holding both, as in `after`
    out = np.asarray(transformer_output(transformer, probe))
    if out.dtype.kind not in "biuf":
        return None
    same = (out == out[0]) | (np.isnan(out) & np.isnan(out[0]))
    varying = np.flatnonzero(~same.all(axis=0))
    return where.start + varying, out[-1, varying]


def transformer_output(transformer, frame: pd.DataFrame):
    """A block's output for `frame` as a dense array ('passthrough': the frame's values)."""
    if transformer == "passthrough":
        return frame.to_numpy()
    out = transformer.transform(frame)
    return out.toarray() if sparse.issparse(out) else np.asarray(out)


def _occluded_engineered(design, part, rows, column, value) -> pd.DataFrame:
    """The engineered frame of `part`'s `rows` with raw `column` set to `value`."""
    raw = part.iloc[rows].copy()
    raw[column] = with_baseline(raw[column].to_numpy(), np.ones(len(raw), dtype=bool), value)
    return design.engineer.transform(raw) if design.engineer is not None else raw


def with_baseline(values: np.ndarray, block: np.ndarray, value: object) -> np.ndarray:
    """`values` with `value` in the rows of `block`, in a dtype holding both (as pandas gives a
    column set to a scalar: float for a number, object otherwise)."""
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool
    )
    if number and values.dtype.kind in "biuf":
        out = values.astype(np.result_type(values.dtype, np.asarray(value).dtype), copy=True)
    else:
        out = values.astype(object, copy=True)
    out[block] = value
    return out
