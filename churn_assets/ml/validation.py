"""Row-level validation: split a raw table into validated rows and quarantined rows with reasons.

Rules, in order (a row can collect several reasons; every reason is kept):
- the id is present and not a repeat of an earlier row's id (the first occurrence is kept);
- the target is present and maps to the positive label or a negative label;
- each numeric column's value parses as a number (blank cells are missing, not bad);
- declared value ranges and allowed categories hold.

Problems with the table as a whole (a missing target or declared column, a target with more than
two values and no declared negative labels) raise `SchemaError`; rates over the whole table
(missing values, duplicates, class balance, quality score) are left to the asset checks, which
read them from the `ValidationReport`.

Quality score (0-100): 100 x (rows kept / rows in) x (1 - mean missing-cell rate of the feature
columns among the kept rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churn_assets.ml.sources import SPLIT_COLUMN
from churn_assets.ml.spec import DatasetSpec

TARGET = "churned"  # the 0/1 target column in validated data, whatever the source calls it
ROW_COLUMN = "_source_row"
REASONS_COLUMN = "_reasons"
NUMERIC_SHARE = 0.95  # an undeclared text column is numeric when this share of values parses
MAX_CATEGORIES_SHARE = 0.5  # undeclared text with more distinct values than this is an identifier


class SchemaError(ValueError):
    """The table as a whole does not fit the dataset spec."""


@dataclass
class ColumnTypes:
    numeric: list[str]
    categorical: list[str]
    excluded: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    how: dict[str, str] = field(default_factory=dict)  # column -> "declared" | "inferred: ..."


@dataclass
class ValidationReport:
    rows_in: int
    rows_kept: int
    rows_quarantined: int
    reasons: dict[str, int]
    missing_rate: dict[str, float]
    invalid_values: dict[str, int]
    duplicate_ids: int
    positive_rate: float
    types: ColumnTypes
    quality_score: float

    @property
    def duplicate_rate(self) -> float:
        return self.duplicate_ids / self.rows_in if self.rows_in else 0.0


@dataclass
class ValidationResult:
    valid: pd.DataFrame
    quarantined: pd.DataFrame
    report: ValidationReport


def _norm_label(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lower()


def _on_uniques(series: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply `fn` to the distinct values only, then spread back; NaN stays NaN.

    Real columns repeat few values, so this turns a million string operations into a handful.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = fn(pd.Series(uniques, dtype=object)).to_numpy()
    result = mapped.take(codes)
    result = pd.Series(result, index=series.index)
    return result.where(codes >= 0, None)


def _strip_text(values: pd.Series) -> pd.Series:
    text = values.astype(str).str.strip()
    return text.where(text != "", None)


def _parse_numeric(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse to float; returns (values, bad) where bad marks present-but-unparseable cells."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.astype(float), pd.Series(False, index=series.index)
    text = _on_uniques(series, _strip_text)
    values = pd.to_numeric(_on_uniques(text, lambda u: pd.to_numeric(u, errors="coerce")))
    values = values.astype(float)
    return values, values.isna() & text.notna()


def infer_types(frame: pd.DataFrame, spec: DatasetSpec) -> ColumnTypes:
    """Numeric and categorical feature columns: declared ones as given, the rest inferred."""
    reserved = {spec.target_column, spec.id_name, SPLIT_COLUMN, spec.date_column}
    declared_num = list(spec.numeric_columns or [])
    declared_cat = list(spec.categorical_columns or [])
    missing = [c for c in [*declared_num, *declared_cat] if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"declared columns {missing} are not in the table (columns: {list(frame.columns)}); "
            "fix numeric_columns/categorical_columns in the dataset spec"
        )
    types = ColumnTypes(numeric=[], categorical=[])
    for col in frame.columns:
        if col in reserved or col in spec.drop_columns:
            continue
        if col in declared_num:
            types.numeric.append(col)
            types.how[col] = "declared numeric"
        elif col in declared_cat:
            types.categorical.append(col)
            types.how[col] = "declared categorical"
        elif spec.numeric_columns is not None and spec.categorical_columns is not None:
            types.excluded[col] = "not declared in the spec"
        else:
            _infer_one(frame[col], col, types)
    return types


def _infer_one(series: pd.Series, col: str, types: ColumnTypes) -> None:
    present = series.dropna()
    if present.empty:
        types.numeric.append(col)  # all-null: kept so the missing-value check names it
        types.how[col] = "inferred numeric (all values missing)"
        return
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        types.numeric.append(col)
        types.how[col] = f"inferred numeric (dtype {series.dtype})"
        return
    counts = present.value_counts()
    text = _strip_text(pd.Series(counts.index, dtype=object))
    parsed = pd.to_numeric(text, errors="coerce")
    weights = counts.to_numpy()[text.notna().to_numpy()]
    share = float((weights * parsed[text.notna()].notna().to_numpy()).sum() / max(1, weights.sum()))
    if share >= NUMERIC_SHARE:
        types.numeric.append(col)
        types.how[col] = f"inferred numeric ({share:.1%} of text values parse)"
        return
    distinct = len(counts)
    if distinct > max(50, MAX_CATEGORIES_SHARE * len(present)):
        types.excluded[col] = f"text with {distinct} distinct values looks like an identifier"
        return
    types.categorical.append(col)
    types.how[col] = f"inferred categorical ({distinct} values)"


def _target_labels(target: pd.Series, spec: DatasetSpec) -> tuple[str, set[str]]:
    col = spec.target_column
    positive = _norm_label(spec.positive_label)
    counts = target.value_counts()
    seen = pd.Series(counts.to_numpy(), index=counts.index.map(_norm_label)).groupby(level=0).sum()
    seen = seen.sort_values(ascending=False)
    if positive not in seen.index:
        raise SchemaError(
            f"target column '{col}' never has the positive label '{spec.positive_label}' "
            f"(values: {dict(seen.head(10))}); set positive_label in the dataset spec"
        )
    if spec.negative_labels is not None:
        return positive, {_norm_label(v) for v in spec.negative_labels}
    others = [v for v in seen.index if v != positive]
    if len(others) != 1:
        raise SchemaError(
            f"target column '{col}' must be binary, but has {len(seen)} values "
            f"{dict(seen.head(10))}; declare negative_labels in the dataset spec to quarantine "
            "the rest, or clean the source"
        )
    return positive, set(others)


def validate(raw: pd.DataFrame, spec: DatasetSpec, require_target: bool = True) -> ValidationResult:
    """Apply the row-level rules of the module docstring.

    Returns the validated rows (numeric columns as float, categorical as text, target as 0/1 in
    `churned`, original row number in `_source_row`) and the quarantined rows (raw values as text
    plus `_reasons`). Raises SchemaError when the table as a whole does not fit the spec.

    With `require_target=False` (incoming batches scored before their labels arrive) the target
    may be absent or missing; labels that are present are still checked and mapped.
    """
    labeled = spec.target_column in raw.columns
    if require_target:
        _require_target_column(raw, spec)
    return _validate(raw, spec, require_target, labeled)


def _require_target_column(raw: pd.DataFrame, spec: DatasetSpec) -> None:
    if spec.target_column not in raw.columns:
        hint = "set target_column in the dataset spec"
        if len(raw.columns) == 1 and any(sep in str(raw.columns[0]) for sep in ";\t|"):
            hint = "the file has a single column: set source.delimiter (e.g. ';') in the spec"
        raise SchemaError(
            f"target column '{spec.target_column}' is not in the table "
            f"(columns: {list(raw.columns)}); {hint}"
        )


def _validate(
    raw: pd.DataFrame, spec: DatasetSpec, require_target: bool, labeled: bool
) -> ValidationResult:
    if spec.id_column and spec.id_column not in raw.columns:
        raise SchemaError(
            f"id column '{spec.id_column}' is not in the table (columns: {list(raw.columns)}); "
            "set id_column in the dataset spec, or remove it to use row numbers"
        )
    types = infer_types(raw, spec)
    if not types.numeric and not types.categorical:
        raise SchemaError(
            f"the table has no feature columns besides the id and target "
            f"(columns: {list(raw.columns)})"
        )
    n = len(raw)
    rows = pd.RangeIndex(n)
    out = pd.DataFrame(index=rows)
    # (rule, mask, message) where message(positions) builds reasons only for the rows that fail.
    problems: list[tuple[str, np.ndarray, Callable[[np.ndarray], np.ndarray]]] = []

    def constant(text: str) -> Callable[[np.ndarray], np.ndarray]:
        return lambda hit: np.full(len(hit), text, dtype=object)

    def quoted(prefix: str, values: pd.Series, suffix: str) -> Callable:
        return lambda hit: (prefix + values.iloc[hit].astype(str) + suffix).to_numpy()

    if spec.id_column:
        ids = raw[spec.id_column].reset_index(drop=True)
        text_ids = ids.astype(str).str.strip().where(ids.notna(), None)
        id_missing = (text_ids.isna() | (text_ids == "")).to_numpy()
        dup = (text_ids.duplicated(keep="first") & ~id_missing).to_numpy()
        out[spec.id_name] = text_ids
    else:
        ids = pd.Series(np.arange(n), index=rows)
        id_missing = dup = np.zeros(n, dtype=bool)
        out[spec.id_name] = ids
    problems.append(("missing_id", id_missing, constant("id is missing")))

    def duplicate_message(hit: np.ndarray) -> np.ndarray:
        firsts = ids[~ids.duplicated(keep="first")]
        first_at = pd.Series(firsts.index, index=firsts.to_numpy())
        dup_ids = ids.iloc[hit]
        where = first_at.reindex(dup_ids.to_numpy()).to_numpy()
        return np.array(
            [f"duplicate id '{i}' (first at row {w})" for i, w in zip(dup_ids, where, strict=True)],
            dtype=object,
        )

    problems.append(("duplicate_id", dup, duplicate_message))

    if labeled:
        target_raw = raw[spec.target_column].reset_index(drop=True)
        labels = _on_uniques(target_raw, lambda u: u.map(_norm_label))
        if require_target:
            positive, negatives = _target_labels(target_raw, spec)
            problems.append(
                ("missing_target", labels.isna().to_numpy(), constant("target is missing"))
            )
        else:  # a batch may hold only churners or none; unlabeled rows are expected
            positive = _norm_label(spec.positive_label)
            declared = spec.negative_labels
            negatives = {_norm_label(v) for v in declared} if declared else set(labels.dropna())
            negatives.discard(positive)
        unknown = (~labels.isin([positive, *negatives]) & labels.notna()).to_numpy()
        problems.append(
            (
                "invalid_target",
                unknown,
                quoted(f"target '{spec.target_column}' value '", labels, "' is not a known label"),
            )
        )
        if require_target:  # rows without a label are quarantined, so 0/1 is complete
            out[TARGET] = (labels == positive).astype(np.int8)
        else:
            out[TARGET] = (labels == positive).astype("Int8").where(labels.notna(), pd.NA)

    invalid_values: dict[str, int] = {}
    for col in types.numeric:
        source = raw[col].reset_index(drop=True)
        values, bad = _parse_numeric(source)
        invalid_values[col] = int(bad.sum())
        problems.append(
            (
                "not_numeric",
                bad.to_numpy(),
                quoted(f"column '{col}': value '", source, "' is not numeric"),
            )
        )
        out[col] = values
    for col in types.categorical:
        out[col] = _on_uniques(raw[col].reset_index(drop=True), _strip_text)

    for col, bounds in spec.ranges.items():
        if col not in types.numeric:
            raise SchemaError(f"range declared for column '{col}', which is not a numeric feature")
        values = out[col]
        low = (values < bounds.min) if bounds.min is not None else pd.Series(False, index=rows)
        high = (values > bounds.max) if bounds.max is not None else pd.Series(False, index=rows)
        problems.append(
            (
                "out_of_range",
                (low | high).to_numpy(),
                quoted(f"column '{col}': ", values, f" outside [{bounds.min}, {bounds.max}]"),
            )
        )
    for col, allowed in spec.allowed_categories.items():
        if col not in types.categorical:
            raise SchemaError(f"allowed categories declared for '{col}', which is not categorical")
        values = out[col]
        bad = (values.notna() & ~values.isin(allowed)).to_numpy()
        problems.append(
            (
                "not_allowed_category",
                bad,
                quoted(f"column '{col}': '", values, f"' not in allowed categories {allowed}"),
            )
        )
    if spec.date_column:
        dates = pd.to_datetime(raw[spec.date_column].reset_index(drop=True), errors="coerce")
        out[spec.date_column] = dates
        problems.append(
            (
                "invalid_date",
                dates.isna().to_numpy(),
                constant(f"date column '{spec.date_column}' missing or unparseable"),
            )
        )
    if SPLIT_COLUMN in raw.columns:
        out[SPLIT_COLUMN] = raw[SPLIT_COLUMN].to_numpy()
    out[ROW_COLUMN] = np.arange(n)

    bad_any = np.zeros(n, dtype=bool)
    reason_counts: dict[str, int] = {}
    for rule, mask, _ in problems:
        reason_counts[rule] = reason_counts.get(rule, 0) + int(mask.sum())
        bad_any |= mask
    bad_rows = np.flatnonzero(bad_any)
    reasons = pd.Series([[] for _ in bad_rows], index=bad_rows, dtype=object)
    for _, mask, message in problems:
        hit = np.flatnonzero(mask)
        for row, text in zip(hit, message(hit), strict=True):
            reasons[row].append(text)
    quarantined = raw.iloc[bad_rows].reset_index(drop=True).astype("string")
    quarantined.insert(0, ROW_COLUMN, bad_rows)
    quarantined[REASONS_COLUMN] = ["; ".join(r) for r in reasons]

    valid = out.loc[~bad_any].reset_index(drop=True)
    features = [*types.numeric, *types.categorical]
    missing_rate = {c: float(valid[c].isna().mean()) if len(valid) else 1.0 for c in features}
    kept_share = len(valid) / n
    mean_missing = float(np.mean(list(missing_rate.values()))) if missing_rate else 0.0
    report = ValidationReport(
        rows_in=n,
        rows_kept=len(valid),
        rows_quarantined=len(quarantined),
        reasons={k: v for k, v in reason_counts.items() if v},
        missing_rate=missing_rate,
        invalid_values=invalid_values,
        duplicate_ids=int(dup.sum()),
        positive_rate=float(valid[TARGET].mean()) if len(valid) and TARGET in valid else 0.0,
        types=types,
        quality_score=round(100.0 * kept_share * (1.0 - mean_missing), 2),
    )
    return ValidationResult(valid=valid, quarantined=quarantined, report=report)


def typed_columns(valid: pd.DataFrame, spec: DatasetSpec) -> ColumnTypes:
    """The feature columns of an already validated table, read from its dtypes."""
    reserved = {spec.id_name, TARGET, ROW_COLUMN, SPLIT_COLUMN, spec.date_column}
    types = ColumnTypes(numeric=[], categorical=[])
    for col in valid.columns:
        if col in reserved:
            continue
        kind = "numeric" if pd.api.types.is_numeric_dtype(valid[col]) else "categorical"
        getattr(types, kind).append(col)
        types.how[col] = f"{kind} in validated data"
    return types
