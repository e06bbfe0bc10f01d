"""Occlusion in the model's own input space: the same numbers as `explain._occluded`, cheaper.

The generic occlusion runs the whole Pipeline (engineered features, imputing, scaling, one-hot)
on every occluded copy, then the estimator. For the project's Pipelines (an optional
`EngineeredFeatures`, a `ColumnTransformer`, an estimator) this module instead transforms each
explained row once and, for each raw column, recomputes only the transformed columns that column
reaches: a column-wise block (imputers, scalers, encoders) maps the baseline to one constant
vector, so the occluded copy is the row's design matrix with a few entries replaced; any other
block, or a column engineered features are computed from, is recomputed for the occluded rows.
Nothing is approximated: every replaced entry is what the Pipeline's own transform gives for
the occluded row, so the estimator sees the same input as in the generic method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from churn_assets.ml.explain_edits import Edit, column_wise, edits
from churn_assets.ml.explain_hgb import binned_trees
from churn_assets.ml.features import EngineeredFeatures
from churn_assets.ml.models.calibration import calibrator_of

__all__ = ["Design", "column_wise", "design_of", "estimator_input", "occluded_proba"]

# Estimators that cast their input to float32 before predicting.
FLOAT32_ESTIMATORS = (XGBClassifier, RandomForestClassifier)


@dataclass(frozen=True)
class Design:
    """A fitted Pipeline taken apart: engineered features (or None), the column transformer,
    its blocks as (transformer, input column names, output slice), the estimator, and the
    calibration map applied after it (a `CalibratedPipeline`'s; None: none)."""

    engineer: EngineeredFeatures | None
    columns: ColumnTransformer
    blocks: tuple[tuple[object, list[str], slice], ...]
    estimator: object
    calibrator: object | None = None

    def transform(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """The engineered frame and the estimator's input matrix of `X`."""
        engineered = self.engineer.transform(X) if self.engineer is not None else X
        return engineered, np.asarray(self.columns.transform(engineered))

    def reached(self, column: str) -> set[str]:
        """The engineered frame's columns that change when raw `column` changes."""
        out = {column}
        if self.engineer is None:
            return out
        out |= {name for name, num, den in self.engineer.ratios if column in (num, den)}
        out |= {name for name, cols in getattr(self.engineer, "sums", ()) if column in cols}
        out |= {name for name, col, _ in self.engineer.buckets if col == column}
        return out


def design_of(model) -> Design | None:
    """`model` taken apart, or None when it is not [EngineeredFeatures?, ColumnTransformer,
    estimator] (nested Pipelines flattened) with a dense array output."""
    if not isinstance(model, Pipeline):
        return None
    steps = _flat(model)
    engineer = steps.pop(0) if steps and isinstance(steps[0], EngineeredFeatures) else None
    if len(steps) != 2 or not isinstance(steps[0], ColumnTransformer):
        return None
    columns, estimator = steps
    if columns.sparse_threshold != 0 or not hasattr(columns, "output_indices_"):
        return None
    if hasattr(estimator, "feature_names_in_"):  # fitted on a frame: it is not given arrays
        return None
    names = list(columns.feature_names_in_)
    blocks = []
    for name, transformer, cols in columns.transformers_:
        if transformer == "drop":
            continue
        picked = [names[c] if isinstance(c, (int, np.integer)) else c for c in np.atleast_1d(cols)]
        blocks.append((transformer, picked, columns.output_indices_[name]))
    return Design(engineer, columns, tuple(blocks), estimator, calibrator_of(model))


def _flat(pipeline: Pipeline) -> list:
    out = []
    for _, step in pipeline.steps:
        if isinstance(step, Pipeline):
            out.extend(_flat(step))
        elif step not in (None, "passthrough"):
            out.append(step)
    return out


def occluded_proba(
    design: Design,
    plan: dict[str, dict[int, Edit]],
    part: pd.DataFrame,
    baseline: dict[str, object],
    prepared: tuple[pd.DataFrame, np.ndarray] | None = None,
):
    """The churn probability of every occluded copy of `part` (each column set to its baseline
    in the rows not already at it); `plan` is `constant_edits` of rows holding `part`'s.
    Returns (row positions, column positions, probabilities), or None when the design matrix
    is not numeric (the caller then uses the generic method). `prepared`: `design.transform(part)`
    if the caller has it.

    A binary logistic regression needs no predict at all: its logit is a sum of linear terms,
    so the occluded logit is the row's logit minus the changed entries' terms plus the new
    ones'. Other estimators predict the stacked occluded design matrices in one call. The
    design's calibration map, if any, is applied last, as the Pipeline's `predict_proba` does.
    """
    found = _occluded_scores(design, plan, part, baseline, prepared)
    if found is None or design.calibrator is None:
        return found
    rows, cols, scores = found
    return rows, cols, design.calibrator.transform(scores)


def _occluded_scores(design, plan, part, baseline, prepared):
    """`occluded_proba` before the calibration map: the estimator's own scores."""
    engineered, Z = prepared if prepared is not None else design.transform(part)
    if Z.dtype.kind not in "biuf":
        return None
    found = []  # (column position, rows not at its baseline, their edits)
    for j, col in enumerate(part.columns):
        at_baseline = part[col].eq(baseline[col]).fillna(False).to_numpy(dtype=bool)
        rows = np.flatnonzero(~at_baseline)
        if len(rows):
            changes = edits(design, plan.get(col, {}), part, engineered, rows, col, baseline[col])
            found.append((j, rows, changes))
    if not found:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    rows = np.concatenate([r for _, r, _ in found])
    cols = np.concatenate([np.full(len(r), j) for j, r, _ in found])
    if _binary_linear(design.estimator):
        logit = design.estimator.decision_function(Z)
        w = design.estimator.coef_[0]
        shifts = []
        for _, r, changes in found:
            shift = np.zeros(len(r))
            for idx, new in changes:
                shift += (Z[np.ix_(r, idx)] - new) @ w[idx]
            shifts.append(shift)
        return rows, cols, expit(logit[rows] - np.concatenate(shifts))
    # HistGradientBoosting: the copies binned, walked as its trees walk binned rows.
    trees = binned_trees(design.estimator)
    if trees is not None:
        everything = np.arange(Z.shape[1])
        stacked = _column_major_copies(trees.bins(Z, everything).T, found, rows, trees.bins)
        return rows, cols, trees.proba(stacked)
    # One stacked design matrix, in the dtype the estimator predicts in (the forests and
    # XGBoost cast to float32 first, so building it in float32 gives them the same input).
    dtype = _input_dtype(design.estimator)
    if _column_major(design.estimator):
        ZT = np.ascontiguousarray(Z.T, dtype=dtype)
        stacked = _column_major_copies(ZT, found, rows, lambda new, idx: new)
    else:
        stacked = Z[rows].astype(dtype)
        start = 0
        for _, r, changes in found:
            for idx, new in changes:
                stacked[start : start + len(r), idx] = new
            start += len(r)
    return rows, cols, design.estimator.predict_proba(stacked)[:, 1]


def _column_major_copies(ZT: np.ndarray, found, rows: np.ndarray, convert) -> np.ndarray:
    """The stacked occluded copies as a column-major (F-ordered) matrix, built transposed from
    `ZT` (features x rows) so every edit writes contiguous memory; `convert(new, idx)` turns an
    edit's values into `ZT`'s representation."""
    stacked = np.ascontiguousarray(ZT)[:, rows]
    start = 0
    for _, r, changes in found:
        for idx, new in changes:  # a constant vector, or one row of values per row
            new = convert(np.asarray(new), idx)
            stacked[idx, start : start + len(r)] = new[:, None] if new.ndim == 1 else new.T
        start += len(r)
    return stacked.T


def estimator_input(estimator, Z: np.ndarray) -> np.ndarray:
    """`Z` in the memory order `estimator` predicts fastest from (same values, same scores)."""
    return np.asfortranarray(Z) if _column_major(estimator) else Z


def _column_major(estimator) -> bool:
    """HistGradientBoosting walks each tree over all rows, reading one column per split: from
    a column-major matrix about a quarter faster (measured; the forests and XGBoost are
    slower from it). Both orders give the same numbers."""
    return isinstance(estimator, HistGradientBoostingClassifier)


def _input_dtype(estimator) -> type:
    """float32 for the estimators that cast their input to it, float64 otherwise."""
    return np.float32 if isinstance(estimator, FLOAT32_ESTIMATORS) else np.float64


def _binary_linear(estimator) -> bool:
    return isinstance(estimator, LogisticRegression) and estimator.coef_.shape[0] == 1
