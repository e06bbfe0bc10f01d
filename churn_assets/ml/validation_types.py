"""Column types: which columns are numeric or categorical features, and parsing text to numbers.

Declared columns are taken as given; the rest are inferred: numeric when at least 95% of text
values parse, an identifier (excluded) when text has more distinct values than half the rows.
A column of numbers written with separators the spec does not declare ('1,695.0', '21,00') is
an error with the fix, never silently dropped as an identifier.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from churn_assets.ml.sources import SPLIT_COLUMN
from churn_assets.ml.spec import DatasetSpec, SourceSpec
from churn_assets.ml.validation_base import PROVENANCE, ColumnTypes, SchemaError

NUMERIC_SHARE = 0.95  # an undeclared text column is numeric when this share of values parses
MAX_CATEGORIES_SHARE = 0.5  # undeclared text with more distinct values than this is an identifier
_OVERFLOW = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")  # '1e309' parses to inf
_SEPARATED = [  # (pattern, the spec setting that reads it)
    (re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"), "source.thousands: ','"),
    (
        re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$"),
        "source.thousands: '.' and source.decimal: ','",
    ),
    (re.compile(r"^[+-]?\d*,\d+$"), "source.decimal: ','"),
]


# Text held by Arrow (pandas 3's default `str` dtype; missing is NaN): encoded to and decoded from
# Parquet without building a Python string per cell. Written to Parquet it reads back, without a
# type mapper, as the object column of `str`/None it was before, so models see what they saw.
TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def text_as_arrow(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns as Arrow-backed text (`TEXT`); a column mixing numbers and text (a CSV's
    '12,5' beside 12.5) becomes the text of each value, as `str()` writes it. Other columns, and
    columns already `TEXT`, are kept as they are (no copy of their data)."""
    # By the numpy dtype: pandas' select_dtypes("object") also picks the Arrow `str` columns.
    objects = [c for c, dtype in frame.dtypes.items() if dtype == np.dtype(object)]
    if not objects:
        return frame
    frame = frame.copy(deep=False)
    for col in objects:
        frame[col] = frame[col].astype(TEXT)
    return frame


def on_uniques(series: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply `fn` to the distinct values only, then spread back; NaN stays NaN.

    Real columns repeat few values, so this turns a million string operations into a handful.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = fn(pd.Series(uniques, dtype=object)).to_numpy()
    result = pd.Series(mapped.take(codes), index=series.index)
    return result.where(codes >= 0, None)


def text_on_uniques(series: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """`on_uniques` giving Arrow-backed text (`TEXT`, missing as NaN): the distinct results are
    spread back by an Arrow take, without a Python object per cell."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = pd.array(fn(pd.Series(uniques, dtype=object)).to_numpy(), dtype=TEXT)
    return pd.Series(mapped.take(codes, allow_fill=True), index=series.index)


def mask_on_uniques(series: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """A boolean mask from `fn` (Series -> bool Series) run on the distinct values; NaN is False."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    hit = np.append(fn(pd.Series(uniques, dtype=object)).to_numpy(dtype=bool), False)
    return hit[codes]  # code -1 (missing) picks the appended False


def strip_text(values: pd.Series) -> pd.Series:
    """Values as stripped text; empty text is missing."""
    text = values.astype(str).str.strip()
    return text.where(text != "", None)


def _to_float(text: pd.Series, source: SourceSpec) -> pd.Series:
    if source.thousands:
        text = text.str.replace(source.thousands, "", regex=False)
    if source.decimal != ".":
        text = text.str.replace(source.decimal, ".", regex=False)
    values = pd.to_numeric(text, errors="coerce").astype(float)
    overflow = values.isna() & text.str.match(_OVERFLOW, na=False).astype(bool)
    return values.where(~overflow, text[overflow].map(float))


def parse_numeric(series: pd.Series, source: SourceSpec) -> tuple[pd.Series, pd.Series]:
    """Parse to float with the spec's separators; returns (values, bad) where bad marks
    present-but-unparseable cells. inf, -inf and overflow (1e309) parse as +-inf."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.astype(float), pd.Series(False, index=series.index)
    text = on_uniques(series, strip_text)
    values = pd.to_numeric(on_uniques(text, lambda u: _to_float(u, source))).astype(float)
    return values, values.isna() & text.notna()


def separator_hint(value: object) -> str:
    """The spec setting that would read `value` as a number, or '' when none would."""
    text = str(value).strip()
    return next((fix for pattern, fix in _SEPARATED if pattern.match(text)), "")


def infer_types(frame: pd.DataFrame, spec: DatasetSpec) -> ColumnTypes:
    """Numeric and categorical feature columns: declared ones as given, the rest inferred.

    Raises SchemaError naming declared columns missing from the table, and undeclared columns of
    numbers written with separators the spec does not set.
    """
    reserved = {spec.target_column, spec.id_name, SPLIT_COLUMN, PROVENANCE, spec.date_column}
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
            _infer_one(frame[col], col, types, spec.source)
    return types


def _infer_one(series: pd.Series, col: str, types: ColumnTypes, source: SourceSpec) -> None:
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
    text = strip_text(pd.Series(counts.index, dtype=object))
    weights = counts.to_numpy()[text.notna().to_numpy()]
    text = text.dropna()
    parsed = _to_float(text, source).notna().to_numpy()
    share = float((weights * parsed).sum() / max(1, weights.sum()))
    if share >= NUMERIC_SHARE:
        types.numeric.append(col)
        types.how[col] = f"inferred numeric ({share:.1%} of text values parse)"
        return
    hints = text.map(separator_hint).to_numpy()
    separated = float((weights * (parsed | (hints != ""))).sum() / max(1, weights.sum()))
    if separated >= NUMERIC_SHARE:
        example = text[hints != ""].iloc[0]
        raise SchemaError(
            f"column '{col}' holds numbers with separators (e.g. '{example}') that the spec "
            f"does not set; set {hints[hints != ''][0]} in the dataset spec, or list "
            f"'{col}' in categorical_columns or drop_columns"
        )
    distinct = len(counts)
    if distinct > max(50, MAX_CATEGORIES_SHARE * len(present)):
        types.excluded[col] = f"text with {distinct} distinct values looks like an identifier"
        return
    types.categorical.append(col)
    types.how[col] = f"inferred categorical ({distinct} values)"


def infinite(values: pd.Series) -> np.ndarray:
    """A mask of +-inf cells (non-finite numbers, which no model can fit)."""
    return np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
