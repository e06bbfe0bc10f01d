"""The training side of drift detection, computed once and stored as a long-format table.

A `DriftReference` keeps, per column: numeric (features and the prediction score) the finite values
sorted as float64, the standard deviation and the quantile edges for PSI; categorical (features and
the target) the value counts keyed by `category_key`; and the number of missing values. `to_frame`
and `from_frame` store it as one long table (see `frame`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_assets.ml.drift import stats as ds


@dataclass
class ColumnReference:
    """Reference summary of one column: numeric ones have `values`, categorical ones `counts`."""

    column: str
    kind: str
    n_missing: int
    values: np.ndarray | None = None
    counts: dict[str, int] | None = None
    std: float = math.nan
    psi_edges: np.ndarray | None = None

    @property
    def n_valid(self) -> int:
        """Number of non-missing reference values."""
        if self.values is not None:
            return int(self.values.size)
        return sum((self.counts or {}).values())

    @property
    def n_rows(self) -> int:
        """Number of reference rows, missing included."""
        return self.n_valid + self.n_missing


@dataclass
class DriftReference:
    """Per-column reference summaries in a fixed order (features, then score, then target)."""

    columns: dict[str, ColumnReference]

    def _of(self, kind: str) -> list[str]:
        return [name for name, ref in self.columns.items() if ref.kind == kind]

    @property
    def numeric(self) -> list[str]:
        """Names of the numeric feature columns."""
        return self._of("numeric")

    @property
    def categorical(self) -> list[str]:
        """Names of the categorical feature columns."""
        return self._of("categorical")

    @property
    def score_column(self) -> str | None:
        """Name of the prediction score column, if the reference has one."""
        return next(iter(self._of("prediction")), None)

    @property
    def target_column(self) -> str | None:
        """Name of the target column, if the reference has one."""
        return next(iter(self._of("target")), None)

    def to_frame(self) -> pd.DataFrame:
        """The reference as a long table (see `frame.reference_to_frame`)."""
        from churn_assets.ml.drift.frame import reference_to_frame  # frame imports this module

        return reference_to_frame(self)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> DriftReference:
        """Rebuild a reference from `to_frame` output (see `frame.reference_from_frame`)."""
        from churn_assets.ml.drift.frame import reference_from_frame

        return reference_from_frame(frame)


def numeric_values(series: pd.Series, column: str, side: str) -> np.ndarray:
    """Sorted finite float64 values of a numeric Series (NaN and +-inf dropped).

    Raises `ValueError` naming the column when the dtype is not numeric or boolean.
    """
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise ValueError(
            f"column {column!r} in the {side} data has dtype {series.dtype}, not numeric; "
            "declare it categorical or convert it to numbers"
        )
    return ds.sorted_finite(series.to_numpy(dtype=np.float64, na_value=np.nan))


def build_reference(
    df: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    score_column: str | None = None,
    target_column: str | None = None,
    *,
    psi_bins: int = 10,
) -> DriftReference:
    """Summarise the training data once for `compute_drift`.

    Takes the reference DataFrame, the numeric and categorical feature names, optionally the score
    and target columns, and the number of quantile bins for PSI. Returns a `DriftReference`. Raises
    `ValueError` when a column is absent, listed twice or a numeric column is not numeric.
    """
    roles = [(c, "numeric") for c in numeric] + [(c, "categorical") for c in categorical]
    if score_column is not None:
        roles.append((score_column, "prediction"))
    if target_column is not None:
        roles.append((target_column, "target"))
    names = [name for name, _ in roles]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"columns {repeated} are listed more than once for the drift reference")
    absent = [n for n in names if n not in df.columns]
    if absent:
        raise ValueError(
            f"the reference data lacks columns {absent}; available: {list(df.columns)}"
        )
    columns: dict[str, ColumnReference] = {}
    for name, kind in roles:
        series = df[name]
        if kind in ("numeric", "prediction"):
            values = numeric_values(series, name, "reference")
            columns[name] = ColumnReference(
                column=name,
                kind=kind,
                n_missing=len(series) - values.size,
                values=values,
                std=float(np.std(values)) if values.size else math.nan,
                psi_edges=ds.quantile_edges(values, psi_bins),
            )
        else:
            counts = ds.value_counts(series)
            columns[name] = ColumnReference(name, kind, int(series.isna().sum()), counts=counts)
    return DriftReference(columns)
