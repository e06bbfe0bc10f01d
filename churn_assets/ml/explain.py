"""Per-row reasons for a churn score, for any fitted Pipeline over raw columns.

Occlusion: for each raw input column, the row's probability is recomputed with that column set
to a typical training value (median or most frequent category); the drop in probability is the
column's contribution. It is model-agnostic (the same code explains logistic regression, forests,
gradient boosting and XGBoost) and speaks in raw columns a retention team understands
("contract=Month-to-month +0.18").

One definition for every family and every caller (batch scoring, the model server's
`?reasons=`). Two ways to compute it, with the same numbers:

- the project's Pipelines (`EngineeredFeatures`, a `ColumnTransformer`, an estimator): each
  explained row is preprocessed once and each occluded copy is that row's design matrix with
  the entries its column reaches replaced (`ml/explain_design.py`); a logistic regression then
  needs no predict at all (its logit minus the changed linear terms), the tree families predict
  the stacked design matrices with the estimator alone;
- any other model: the occluded copies of every column are stacked and scored by the whole
  model in one `predict_proba` per chunk of rows.

In both, a cell already at its baseline is not rescored (its occluded row is the row itself, so
its contribution is exactly 0), and predictions are row-wise, so either gives the numbers of one
`predict_proba` per column over every row.
"""

import numpy as np
import pandas as pd

from churn_assets.ml.explain_design import design_of, occluded_proba
from churn_assets.ml.explain_edits import constant_edits, with_baseline

# Rows explained per stacked predict; each becomes up to one occluded copy per input column.
CHUNK_ROWS = 20_000


def baseline_values(X: pd.DataFrame) -> dict[str, object]:
    """The typical value of each column: median for numbers, most frequent value otherwise."""
    values: dict[str, object] = {}
    for col in X.columns:
        series = X[col].dropna()
        if series.empty:
            values[col] = np.nan
        elif pd.api.types.is_numeric_dtype(series):
            values[col] = float(series.median())
        else:
            values[col] = series.mode().iloc[0]
    return values


def contributions(
    model,
    X: pd.DataFrame,
    baseline: dict[str, object],
    proba: np.ndarray | None = None,
    chunk_rows: int = CHUNK_ROWS,
    generic: bool = False,
    prepared: tuple[pd.DataFrame, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Probability minus the probability with each column set to its baseline (rows x columns).

    `proba` is `model.predict_proba(X)[:, 1]` when the caller has it already (batch scoring
    does); it is computed otherwise. The project's Pipelines are occluded in their design
    matrix (`ml/explain_design.py`, same numbers); `generic=True`, or any other model, runs the
    whole model on stacked occluded copies. `prepared`: `Design.transform(X)` when the caller
    has it already (batch scoring does), so the rows are not preprocessed twice. Raises
    KeyError when `baseline` lacks a column of `X`.
    """
    if proba is None:
        proba = model.predict_proba(X)[:, 1]
    proba = np.asarray(proba)  # kept in the model's dtype (float32 for XGBoost), as before
    effects = np.zeros((len(X), X.shape[1]))
    design = None if generic else design_of(model)
    plan = constant_edits(design, X, baseline) if design is not None else {}
    for start in range(0, len(X), chunk_rows):
        part = X.iloc[start : start + chunk_rows]
        ready = None
        if prepared is not None:
            ready = (
                prepared[0].iloc[start : start + chunk_rows],
                prepared[1][start : start + chunk_rows],
            )
        found = occluded_proba(design, plan, part, baseline, ready) if design is not None else None
        if found is None:
            occluded, rows, cols = _occluded(part, baseline)
            scores = model.predict_proba(occluded)[:, 1] if len(rows) else np.zeros(0)
        else:
            rows, cols, scores = found
        if len(rows):
            rows = rows + start
            effects[rows, cols] = proba[rows] - scores
    return pd.DataFrame(effects, index=X.index, columns=list(X.columns))


def _occluded(part: pd.DataFrame, baseline: dict[str, object]):
    """One frame holding, for each column, the rows of `part` not already at its baseline with
    that column set to the baseline; returns (frame, row positions, column positions)."""
    columns = list(part.columns)
    picks = []
    for col in columns:
        at_baseline = part[col].eq(baseline[col]).fillna(False).to_numpy(dtype=bool)
        picks.append(np.flatnonzero(~at_baseline))
    rows = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    cols = np.repeat(np.arange(len(columns)), [len(p) for p in picks])
    stacked = {}
    for j, col in enumerate(columns):
        stacked[col] = with_baseline(part[col].to_numpy()[rows], cols == j, baseline[col])
    return pd.DataFrame(stacked, columns=columns), rows, cols


def top_reasons(
    model,
    X: pd.DataFrame,
    baseline: dict[str, object],
    k: int = 3,
    min_effect: float = 0.005,
    proba: np.ndarray | None = None,
    prepared: tuple[pd.DataFrame, np.ndarray] | None = None,
) -> pd.Series:
    """For each row, the `k` columns that raise its churn probability most, as text.

    Returns strings like "contract=Month-to-month (+0.181); tenure=2.0 (+0.094)", or "" when no
    column raises the probability by at least `min_effect`. `proba`, `prepared`: see
    `contributions`.
    """
    effects = contributions(model, X, baseline, proba=proba, prepared=prepared)
    values = effects.to_numpy()
    order = np.argsort(-values, axis=1)[:, :k]
    picked = np.take_along_axis(values, order, axis=1)
    names = np.asarray(effects.columns, dtype=object)[order]
    cells = np.take_along_axis(X.to_numpy(dtype=object), order, axis=1)
    # Built rank by rank over whole columns: a list per row made the garbage collector walk
    # the process's heap (all of Dagster in a code location) over and over, costing more than
    # the occlusions. Effects are sorted, so the reasons kept are a prefix of each row's ranks.
    reasons = np.full(len(X), "", dtype=object)
    for rank in range(order.shape[1]):
        keep = np.flatnonzero(picked[:, rank] >= min_effect)
        if not len(keep):
            break
        text = np.array(
            [
                f"{name}={cell} {value}"
                for name, cell, value in zip(
                    names[keep, rank],
                    cells[keep, rank],
                    effect_text(picked[keep, rank]),
                    strict=True,
                )
            ],
            dtype=object,
        )
        reasons[keep] = text if rank == 0 else reasons[keep] + "; " + text
    return pd.Series(reasons, index=X.index, dtype=object)


def effect_text(values: np.ndarray) -> np.ndarray:
    """`f"({value:+.3f})"` of each value, as an object array. Most effects are formatted once
    per distinct thousandth (formatting every float was a third of the reason text's cost):
    a value at least 1e-6 thousandths from a rounding tie rounds to the nearest thousandth
    whatever the float error of `value * 1000`; the rest, and values below 0.0005 or not below
    1000 (sign and width), are formatted one by one."""
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = values * 1000
        fast = (values >= 0.0005) & (values < 1000) & (np.abs(scaled % 1 - 0.5) > 1e-6)
    out = np.empty(len(values), dtype=object)
    thousandths, where = np.unique(np.rint(scaled[fast]).astype(np.int64), return_inverse=True)
    out[fast] = np.array([f"({k / 1000:+.3f})" for k in thousandths.tolist()], dtype=object)[
        where.reshape(-1)
    ]
    slow = np.flatnonzero(~fast)
    out[slow] = [f"({value:+.3f})" for value in values[slow].tolist()]
    return out
