"""The training side of drift detection, computed once and stored as a long-format table.

A `DriftReference` keeps, per column: numeric (features and the prediction score) the finite values
sorted as float64, the standard deviation and the quantile edges for PSI; categorical (features and
the target) the value counts keyed by `category_key`; and the number of missing values. `to_frame`
writes it as one long table with columns column, kind, field, key, value (categorical dtypes, so a
million sorted values per column stay compact in memory and in Parquet) and `from_frame` reads it
back exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_assets.ml.drift import stats as ds

REFERENCE_KINDS = ("numeric", "categorical", "prediction", "target")
FRAME_FIELDS = ("value", "count", "psi_edge", "std", "n_missing")
FRAME_COLUMNS = ["column", "kind", "field", "key", "value"]


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
        """The reference as a long table: column, kind, field, key (category or None), value.

        Fields: "value" (one row per sorted numeric value, in order), "psi_edge", "std",
        "n_missing", and "count" (one row per category, the category in `key`).
        """
        names = list(self.columns)
        codes: dict[str, list[np.ndarray]] = {"column": [], "kind": [], "field": [], "key": []}
        values: list[np.ndarray] = []
        keys: list[str] = []

        def add(column: int, kind: str, field: str, vals: np.ndarray, key_codes=None) -> None:
            n = len(vals)
            codes["column"].append(np.full(n, column, dtype=np.int32))
            codes["kind"].append(np.full(n, REFERENCE_KINDS.index(kind), dtype=np.int8))
            codes["field"].append(np.full(n, FRAME_FIELDS.index(field), dtype=np.int8))
            codes["key"].append(np.full(n, -1, dtype=np.int32) if key_codes is None else key_codes)
            values.append(np.asarray(vals, dtype=np.float64))

        for i, ref in enumerate(self.columns.values()):
            add(i, ref.kind, "n_missing", np.array([ref.n_missing]))
            if ref.values is not None:
                add(i, ref.kind, "std", np.array([ref.std]))
                add(i, ref.kind, "psi_edge", ref.psi_edges)
                add(i, ref.kind, "value", ref.values)
            else:
                counts = ref.counts or {}
                key_codes = np.arange(len(keys), len(keys) + len(counts), dtype=np.int32)
                keys.extend(counts)
                add(i, ref.kind, "count", np.array(list(counts.values())), key_codes)

        def cat(name: str, categories: list[str]) -> pd.Categorical:
            return pd.Categorical.from_codes(np.concatenate(codes[name]), categories=categories)

        # Category keys of different columns may repeat; categories must be unique.
        unique_keys, key_index = np.unique(np.array(keys, dtype=object), return_inverse=True)
        key_codes = np.concatenate(codes["key"])
        mapped = key_codes
        if keys:
            mapped = np.where(key_codes >= 0, key_index[np.maximum(key_codes, 0)], -1)
        return pd.DataFrame(
            {
                "column": cat("column", names),
                "kind": cat("kind", list(REFERENCE_KINDS)),
                "field": cat("field", list(FRAME_FIELDS)),
                "key": pd.Categorical.from_codes(mapped, categories=list(unique_keys)),
                "value": np.concatenate(values),
            }
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> DriftReference:
        """Rebuild a reference from `to_frame` output (also after a Parquet round trip).

        Raises `ValueError` when columns are missing or a column has an unknown kind.
        """
        lacking = [c for c in FRAME_COLUMNS if c not in frame.columns]
        if lacking:
            raise ValueError(
                f"a drift reference frame needs columns {FRAME_COLUMNS}; {lacking} lack"
            )
        # Work on category codes: converting millions of repeated labels to str would be slow.
        field_cat = frame["field"].astype("category").cat
        field_codes = field_cat.codes.to_numpy()
        code_of = {str(name): i for i, name in enumerate(field_cat.categories)}
        kinds = frame["kind"]
        keys = frame["key"].to_numpy()
        values = frame["value"].to_numpy(dtype=np.float64)
        column_cat = frame["column"].astype("category").cat
        column_codes = column_cat.codes.to_numpy()
        order = np.argsort(column_codes, kind="stable")
        bounds = np.flatnonzero(np.diff(column_codes[order])) + 1
        groups = {
            str(column_cat.categories[column_codes[rows[0]]]): rows
            for rows in np.split(order, bounds)
            if rows.size
        }
        columns: dict[str, ColumnReference] = {}
        # Keep the stored column order: by first row of each column.
        for name, rows in sorted(groups.items(), key=lambda item: item[1][0]):
            kind = str(kinds.iloc[rows[0]])
            if kind not in REFERENCE_KINDS:
                raise ValueError(
                    f"column {name!r} has unknown kind {kind!r} in the reference frame"
                )
            f = field_codes[rows]
            empty = rows[:0]
            of = {field: rows[f == code] for field, code in code_of.items()}
            n_missing = int(values[of.get("n_missing", empty)].sum())
            if kind in ("numeric", "prediction"):
                columns[name] = ColumnReference(
                    column=name,
                    kind=kind,
                    n_missing=n_missing,
                    values=np.sort(values[of.get("value", empty)]),
                    std=float(values[of["std"]][0]),
                    psi_edges=values[of.get("psi_edge", empty)],
                )
            else:
                count_rows = of.get("count", empty)
                counts = {
                    str(k): int(v)
                    for k, v in zip(keys[count_rows], values[count_rows], strict=True)
                }
                columns[name] = ColumnReference(name, kind, n_missing, counts=counts)
        return cls(columns)


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
