"""The row-level rules: each returns the typed column(s) and the rows it fails, with reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_assets.ml.sources import NUL_MARK, SPLIT_COLUMN
from churn_assets.ml.spec import DatasetSpec
from churn_assets.ml.validation_base import (
    DEFAULT_ID,
    REASONS_COLUMN,
    ROW_COLUMN,
    SPLIT,
    TARGET,
    ColumnTypes,
    Problem,
    SchemaError,
    constant,
    quoted,
)
from churn_assets.ml.validation_types import (
    infinite,
    mask_on_uniques,
    parse_numeric,
    separator_hint,
)


def check_names(raw: pd.DataFrame, spec: DatasetSpec) -> None:
    """Refuse source columns named like a column the pipeline adds (they would be overwritten).

    A source column may carry an internal name only when the spec maps it (the target named
    `churned`, the id named `row_id`) or drops it; `_source_row` and `_reasons` never.
    """
    internal = {
        TARGET: "the 0/1 target",
        SPLIT: "the train/test split",
        DEFAULT_ID: "the row-number id used when id_column is not set",
        ROW_COLUMN: "the source row number",
        REASONS_COLUMN: "the quarantine reasons",
    }
    if not spec.split.test_path:
        internal[SPLIT_COLUMN] = "the test file's rows"
    mapped = {spec.target_column, spec.id_column, *spec.drop_columns} - {None}
    for name, role in internal.items():
        may_map = name not in (ROW_COLUMN, REASONS_COLUMN)
        if name in raw.columns and not (may_map and name in mapped):
            fix = "rename it in the source" + (" or add it to drop_columns" if may_map else "")
            raise SchemaError(
                f"source column '{name}' has the name the pipeline gives {role}; {fix}"
            )
    engineered = [*spec.ratio_features, *spec.bucket_features, *spec.sum_features]
    clash = [name for name in engineered if name in raw.columns]
    if clash:
        raise SchemaError(
            f"engineered feature name(s) {clash} are already source columns; "
            "rename the feature in the dataset spec"
        )


def id_rules(raw: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.Series, list[Problem], int]:
    """The id column (text, stripped; row numbers without id_column), its problems and the
    number of duplicate ids. The first occurrence of a repeated id is kept."""
    n = len(raw)
    if not spec.id_column:
        return pd.Series(np.arange(n)), [], 0
    ids = raw[spec.id_column].reset_index(drop=True)
    text = ids.astype(str).str.strip().where(ids.notna(), None)
    missing = (text.isna() | (text == "")).to_numpy()
    dup = (text.duplicated(keep="first") & ~missing).to_numpy()

    def duplicate_message(hit: np.ndarray) -> np.ndarray:
        firsts = text[~text.duplicated(keep="first")]
        first_at = pd.Series(firsts.index, index=firsts.to_numpy())
        dup_ids = text.iloc[hit]
        where = first_at.reindex(dup_ids.to_numpy()).to_numpy()
        pairs = zip(dup_ids, where, strict=True)
        return np.array([f"duplicate id '{i}' (first at row {w})" for i, w in pairs], dtype=object)

    problems = [
        Problem("missing_id", missing, constant("id is missing")),
        Problem("duplicate_id", dup, duplicate_message),
    ]
    return text, problems, int(dup.sum())


def numeric_rules(
    raw: pd.DataFrame, col: str, spec: DatasetSpec
) -> tuple[pd.Series, list[Problem], int]:
    """The column as float, its problems (not numeric, non-finite) and the unparseable count."""
    source = raw[col].reset_index(drop=True)
    values, bad = parse_numeric(source, spec.source)

    def not_numeric(hit: np.ndarray) -> np.ndarray:
        shown = source.iloc[hit].astype(str)
        hints = shown.map(separator_hint)
        fix = hints.map(lambda h: f" (set {h} in the dataset spec)" if h else "")
        return (f"column '{col}': value '" + shown + "' is not numeric" + fix).to_numpy()

    inf = infinite(values)
    problems = [
        Problem("not_numeric", bad.to_numpy(), not_numeric),
        Problem(
            "non_finite",
            inf,
            quoted(f"column '{col}': value '", source, "' is not a finite number"),
        ),
    ]
    return values.where(~inf), problems, int(bad.sum())


def range_rule(values: pd.Series, col: str, low: float | None, high: float | None) -> Problem:
    """Rows whose value lies outside [low, high] (missing values pass)."""
    mask = np.zeros(len(values), dtype=bool)
    if low is not None:
        mask |= (values < low).to_numpy()
    if high is not None:
        mask |= (values > high).to_numpy()
    return Problem(
        "out_of_range", mask, quoted(f"column '{col}': ", values, f" outside [{low}, {high}]")
    )


def category_rule(values: pd.Series, col: str, allowed: list[str]) -> Problem:
    """Rows whose category is present and not in `allowed`."""
    bad = (values.notna() & ~values.isin(allowed)).to_numpy()
    message = quoted(f"column '{col}': '", values, f"' not in allowed categories {allowed}")
    return Problem("not_allowed_category", bad, message)


def spec_rules(out: pd.DataFrame, spec: DatasetSpec, types: ColumnTypes) -> list[Problem]:
    """Declared ranges and allowed categories; raises SchemaError for a rule on a wrong column."""
    problems = []
    for col, bounds in spec.ranges.items():
        if col not in types.numeric:
            raise SchemaError(f"range declared for column '{col}', which is not a numeric feature")
        problems.append(range_rule(out[col], col, bounds.min, bounds.max))
    for col, allowed in spec.allowed_categories.items():
        if col not in types.categorical:
            raise SchemaError(f"allowed categories declared for '{col}', which is not categorical")
        problems.append(category_rule(out[col], col, allowed))
    return problems


def date_rule(raw: pd.DataFrame, col: str) -> tuple[pd.Series, Problem]:
    """The date column parsed, and the rows where it is missing or does not parse."""
    dates = pd.to_datetime(raw[col].reset_index(drop=True), errors="coerce")
    return dates, Problem(
        "invalid_date",
        dates.isna().to_numpy(),
        constant(f"date column '{col}' missing or unparseable"),
    )


def nul_rules(raw: pd.DataFrame) -> list[Problem]:
    """Rows with a NUL byte in any text cell: the value is kept whole in quarantine, not cut."""
    problems = []
    for col in raw.select_dtypes(include=["object", "string"]).columns:
        values = raw[col].reset_index(drop=True)
        mask = mask_on_uniques(values, lambda u: u.astype(str).str.contains(NUL_MARK, regex=False))
        if mask.any():
            problems.append(
                Problem("nul_byte", mask, constant(f"column '{col}': value contains a NUL byte"))
            )
    return problems
