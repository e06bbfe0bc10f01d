"""A `DriftReference` as one long-format table, and back.

Columns: column, kind, field, key, value, with categorical dtypes, so a million sorted values per
column stay compact in memory and in Parquet; `reference_from_frame` reads it back exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_assets.ml.drift.reference import ColumnReference, DriftReference

REFERENCE_KINDS = ("numeric", "categorical", "prediction", "target")
FRAME_FIELDS = ("value", "count", "psi_edge", "std", "n_missing")
FRAME_COLUMNS = ["column", "kind", "field", "key", "value"]


def reference_to_frame(reference: DriftReference) -> pd.DataFrame:
    """The reference as a long table: column, kind, field, key (category or None), value.

    Fields: "value" (one row per sorted numeric value, in order), "psi_edge", "std",
    "n_missing", and "count" (one row per category, the category in `key`).
    """
    names = list(reference.columns)
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

    for i, ref in enumerate(reference.columns.values()):
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


def reference_from_frame(frame: pd.DataFrame) -> DriftReference:
    """Rebuild a reference from `to_frame` output (also after a Parquet round trip).

    Raises `ValueError` when columns are missing or a column has an unknown kind.
    """
    lacking = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if lacking:
        raise ValueError(f"a drift reference frame needs columns {FRAME_COLUMNS}; {lacking} lack")
    # Work on category codes: converting millions of repeated labels to str would be slow.
    field_cat = frame["field"].astype("category").cat
    field_codes = field_cat.codes.to_numpy()
    code_of = {str(name): i for i, name in enumerate(field_cat.categories)}
    kinds = frame["kind"]
    key_cat = frame["key"].astype("category").cat
    key_codes = key_cat.codes.to_numpy()
    key_names = np.append(np.asarray(key_cat.categories, dtype=object), "nan")  # -1: no key
    values = frame["value"].to_numpy(dtype=np.float64)
    column_cat = frame["column"].astype("category").cat
    column_codes = column_cat.codes.to_numpy()
    columns: dict[str, ColumnReference] = {}
    empty = np.zeros(0, dtype=np.intp)
    for rows in _column_rows(column_codes):
        first = rows.start if isinstance(rows, slice) else int(rows[0])
        name = str(column_cat.categories[column_codes[first]])
        kind = str(kinds.iloc[first])
        if kind not in REFERENCE_KINDS:
            raise ValueError(f"column {name!r} has unknown kind {kind!r} in the reference frame")
        f = field_codes[rows]
        of = {field: _pick(rows, f == code) for field, code in code_of.items()}
        n_missing = int(values[of.get("n_missing", empty)].sum())
        if kind in ("numeric", "prediction"):
            columns[name] = ColumnReference(
                column=name,
                kind=kind,
                n_missing=n_missing,
                values=_as_stored(values[of.get("value", empty)]),
                std=float(values[of["std"]][0]),
                psi_edges=values[of.get("psi_edge", empty)],
            )
        else:
            count_rows = of.get("count", empty)
            keys = key_names[key_codes[count_rows]]
            counts = {str(k): int(v) for k, v in zip(keys, values[count_rows], strict=True)}
            columns[name] = ColumnReference(name, kind, n_missing, counts=counts)
    return DriftReference(columns)


def _as_stored(values: np.ndarray) -> np.ndarray:
    """The stored values, which `reference_to_frame` wrote sorted: checked in one pass (a frame
    written some other way is sorted here) instead of sorted again on every load."""
    if values.size > 1 and bool((values[1:] < values[:-1]).any()):
        return np.sort(values)
    return values


def _column_rows(column_codes: np.ndarray) -> list[slice | np.ndarray]:
    """The row positions of each stored column, in stored order (by first row): slices when each
    column is one contiguous run, as `reference_to_frame` writes it, so the values are read in
    place; index arrays for a frame in another order."""
    n = column_codes.size
    if n == 0:
        return []
    starts = np.concatenate([[0], np.flatnonzero(column_codes[1:] != column_codes[:-1]) + 1])
    if np.unique(column_codes[starts]).size == starts.size:
        ends = np.append(starts[1:], n)
        return [slice(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]
    order = np.argsort(column_codes, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(column_codes[order])) + 1)
    return sorted((rows for rows in groups if rows.size), key=lambda rows: rows[0])


def _pick(rows: slice | np.ndarray, mask: np.ndarray) -> slice | np.ndarray:
    """The positions of `rows` where `mask` holds; a slice (a view, no copy) when contiguous."""
    hit = np.flatnonzero(mask)
    if not isinstance(rows, slice):
        return rows[hit]
    if hit.size and hit[-1] - hit[0] + 1 == hit.size:
        return slice(rows.start + int(hit[0]), rows.start + int(hit[-1]) + 1)
    return rows.start + hit
