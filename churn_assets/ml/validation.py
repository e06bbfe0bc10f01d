"""Row-level validation: split a raw table into validated rows and quarantined rows with reasons.

Rules (a row can collect several reasons; every reason is kept):
- no cell holds a NUL byte;
- the id is present and not a repeat of an earlier row's id (the first occurrence is kept);
- the target is present and maps to the positive label or a negative label (`ml.labels`);
- each numeric column's value parses as a finite number (blank cells are missing, not bad);
- declared value ranges and allowed categories hold; a declared date parses.

Problems with the table as a whole (a missing target, id or declared column, a source column named
like an internal one, a target with more than two values and no declared negative labels) raise
`SchemaError`; rates over the whole table are left to the checks (`ml.validation_checks`).

Quality score (0-100): 100 x (rows kept / rows in) x (1 - mean missing-cell rate of the feature
columns among the kept rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_assets.ml.labels import target_rules
from churn_assets.ml.sources import SPLIT_COLUMN
from churn_assets.ml.spec import DatasetSpec
from churn_assets.ml.validation_base import (
    PROVENANCE,
    REASONS_COLUMN,
    ROW_COLUMN,
    TARGET,
    ColumnTypes,
    Problem,
    SchemaError,
    ValidationReport,
    ValidationResult,
)
from churn_assets.ml.validation_rules import (
    check_names,
    date_rule,
    id_rules,
    nul_rules,
    numeric_rules,
    spec_rules,
)
from churn_assets.ml.validation_types import (
    TEXT,
    infer_types,
    on_uniques,
    strip_text,
    text_as_arrow,
    text_on_uniques,
)

__all__ = [
    "REASONS_COLUMN",
    "ROW_COLUMN",
    "TARGET",
    "ColumnTypes",
    "SchemaError",
    "ValidationReport",
    "ValidationResult",
    "infer_types",
    "typed_columns",
    "validate",
]


def validate(
    raw: pd.DataFrame, spec: DatasetSpec, require_target: bool = True, arrow_text: bool = False
) -> ValidationResult:
    """Apply the row-level rules of the module docstring.

    Returns the validated rows (numeric columns as float, categorical as text, target as 0/1 in
    `churned`, original row number in `_source_row`) and the quarantined rows (raw values as text
    plus `_reasons`). Raises SchemaError when the table as a whole does not fit the spec.

    With `require_target=False` (incoming batches scored before their labels arrive) the target
    may be absent or missing; labels that are present are still checked and mapped.

    `arrow_text=True` gives the categorical and id columns as Arrow-backed text (`TEXT`, missing
    as NaN) instead of objects (str/None): for a caller that only stores the table (Parquet
    encodes it without visiting a Python object per cell, and reads it back as str/None).
    Models must get the object columns (scikit-learn's imputer tells None from NaN).
    """
    _require_columns(raw, spec, require_target)
    check_names(raw, spec)
    raw = text_as_arrow(raw)  # the rules run on Arrow text: faster, and the same results
    types = infer_types(raw, spec)
    if not types.numeric and not types.categorical:
        raise SchemaError(
            f"the table has no feature columns besides the id and target "
            f"(columns: {list(raw.columns)})"
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    ids, problems, duplicates = id_rules(raw, spec)
    out[spec.id_name] = ids.astype(TEXT) if arrow_text and ids.dtype == object else ids
    problems += nul_rules(raw)
    if spec.target_column in raw.columns:
        out[TARGET], target_problems = target_rules(raw, spec, training=require_target)
        problems += target_problems
    invalid_values: dict[str, int] = {}
    for col in types.numeric:
        out[col], numeric_problems, invalid_values[col] = numeric_rules(raw, col, spec)
        problems += numeric_problems
    for col in types.categorical:
        spread = text_on_uniques if arrow_text else on_uniques
        out[col] = spread(raw[col].reset_index(drop=True), strip_text)
    problems += spec_rules(out, spec, types)
    if spec.date_column:
        out[spec.date_column], date_problem = date_rule(raw, spec.date_column)
        problems.append(date_problem)
    for carried in (SPLIT_COLUMN, PROVENANCE):  # carried along, never features
        if carried in raw.columns:
            out[carried] = raw[carried].to_numpy()
    out[ROW_COLUMN] = np.arange(len(raw))
    return _assemble(raw, out, problems, types, invalid_values, duplicates)


def _require_columns(raw: pd.DataFrame, spec: DatasetSpec, require_target: bool) -> None:
    # The source's columns as the user wrote them: not those the pipeline adds (the training
    # set's provenance, a publisher's split), which would hide a one-column file.
    columns = [c for c in raw.columns if c not in (PROVENANCE, SPLIT_COLUMN)]
    if require_target and spec.target_column not in columns:
        hint = "set target_column in the dataset spec"
        if len(columns) == 1 and any(sep in str(columns[0]) for sep in ";\t|"):
            hint = "the file has a single column: set source.delimiter (e.g. ';') in the spec"
        raise SchemaError(
            f"target column '{spec.target_column}' is not in the table (columns: {columns}); {hint}"
        )
    if spec.id_column and spec.id_column not in columns:
        raise SchemaError(
            f"id column '{spec.id_column}' is not in the table (columns: {columns}); "
            "set id_column in the dataset spec, or remove it to use row numbers"
        )
    if spec.date_column and spec.date_column not in columns:
        raise SchemaError(
            f"date column '{spec.date_column}' is not in the table "
            f"(columns: {columns}); fix date_column in the dataset spec"
        )


def _assemble(
    raw: pd.DataFrame,
    out: pd.DataFrame,
    problems: list[Problem],
    types: ColumnTypes,
    invalid_values: dict[str, int],
    duplicates: int,
) -> ValidationResult:
    """Split rows by the problems' masks; every quarantined row gets every reason it failed."""
    n = len(raw)
    bad_any = np.zeros(n, dtype=bool)
    counts: dict[str, int] = {}
    for problem in problems:
        counts[problem.rule] = counts.get(problem.rule, 0) + int(problem.mask.sum())
        bad_any |= problem.mask
    bad_rows = np.flatnonzero(bad_any)
    reasons = pd.Series([[] for _ in bad_rows], index=bad_rows, dtype=object)
    for problem in problems:
        hit = np.flatnonzero(problem.mask)
        for row, text in zip(hit, problem.message(hit), strict=True):
            reasons[row].append(text)
    quarantined = raw.iloc[bad_rows].reset_index(drop=True).astype("string")
    quarantined.insert(0, ROW_COLUMN, bad_rows)
    quarantined[REASONS_COLUMN] = ["; ".join(r) for r in reasons]
    valid = out.loc[~bad_any].reset_index(drop=True)
    features = [*types.numeric, *types.categorical]
    missing_rate = {c: float(valid[c].isna().mean()) if len(valid) else 1.0 for c in features}
    mean_missing = float(np.mean(list(missing_rate.values()))) if missing_rate else 0.0
    report = ValidationReport(
        rows_in=n,
        rows_kept=len(valid),
        rows_quarantined=len(quarantined),
        reasons={k: v for k, v in counts.items() if v},
        missing_rate=missing_rate,
        invalid_values=invalid_values,
        duplicate_ids=duplicates,
        positive_rate=float(valid[TARGET].mean()) if len(valid) and TARGET in valid else 0.0,
        types=types,
        quality_score=round(100.0 * len(valid) / n * (1.0 - mean_missing), 2),
    )
    return ValidationResult(valid=valid, quarantined=quarantined, report=report)


def typed_columns(valid: pd.DataFrame, spec: DatasetSpec) -> ColumnTypes:
    """The feature columns of an already validated table, read from its dtypes."""
    reserved = {spec.id_name, TARGET, ROW_COLUMN, SPLIT_COLUMN, PROVENANCE, spec.date_column}
    types = ColumnTypes(numeric=[], categorical=[])
    for col in valid.columns:
        if col in reserved:
            continue
        kind = "numeric" if pd.api.types.is_numeric_dtype(valid[col]) else "categorical"
        getattr(types, kind).append(col)
        types.how[col] = f"{kind} in validated data"
    return types
