"""Table-level checks of a parsed source: column names, rows, and the train/test file pair.

Shared by every source kind (CSV, Parquet, SQL): a repeated or blank column name, a table
without rows, or a test file whose header differs raises `SourceError` naming the source.
"""

from __future__ import annotations

import pandas as pd

SPLIT_COLUMN = "_source_split"
NUL_MARK = "\u2400"  # stands in for a NUL byte in a cell, so validation can quarantine the row


class SourceError(ValueError):
    """The source could not be read as a table."""


def check_columns(frame: pd.DataFrame, where: str, header: list[str] | None = None) -> pd.DataFrame:
    """Strip column names and refuse ones that would change a column silently.

    `header` is the raw CSV header when known (pandas renames a repeated `tenure` to `tenure.1`).
    An unnamed column that is entirely empty (a trailing delimiter) is dropped; one with values
    raises. Returns the frame with stripped names; raises SourceError naming the columns.
    """
    names = [str(c).strip() for c in (header if header is not None else frame.columns)]
    if header is not None and len(names) == frame.shape[1] + 1 and not names[-1]:
        names = names[:-1]  # "a,b,c," header over rows without the trailing delimiter
    seen: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        seen.setdefault(name, []).append(position)
    repeated = {n: p for n, p in seen.items() if len(p) > 1 and n}
    if repeated:
        described = "; ".join(f"'{n}' at columns {p}" for n, p in repeated.items())
        raise SourceError(
            f"{where} has duplicate column names (after stripping spaces): {described}; "
            "rename them in the source so each column has one name"
        )
    frame = frame.copy(deep=False)
    frame.columns = names if len(names) == frame.shape[1] else [str(c).strip() for c in frame]
    unnamed = [i for i, c in enumerate(frame.columns) if not c or c.startswith("Unnamed: ")]
    positions = [i + 1 for i in unnamed if frame.iloc[:, i].notna().any()]
    if positions:
        raise SourceError(
            f"{where} has values in column(s) {positions} with no header name; "
            "name them in the header row"
        )
    keep = [i for i in range(frame.shape[1]) if i not in unnamed]
    return frame.iloc[:, keep]


def combine_split(train: pd.DataFrame, test: pd.DataFrame, test_where: str) -> pd.DataFrame:
    """The train rows then the test rows, with `_source_split` saying which file each came from."""
    require_rows(test, test_where)
    if SPLIT_COLUMN in train.columns or SPLIT_COLUMN in test.columns:
        raise SourceError(
            f"the source has a column named '{SPLIT_COLUMN}', which the pipeline uses to mark "
            "the test file's rows; rename it in the source"
        )
    if list(train.columns) != list(test.columns):
        only = sorted(set(train.columns) ^ set(test.columns))
        if only:
            raise SourceError(
                f"{test_where} does not have the training file's columns (differing: {only}); "
                "both files of a split need the same header"
            )
        test = test[list(train.columns)]
    return pd.concat(
        [train.assign(**{SPLIT_COLUMN: "train"}), test.assign(**{SPLIT_COLUMN: "test"})],
        ignore_index=True,
    )


def require_rows(frame: pd.DataFrame, where: str) -> None:
    """Raise SourceError naming `where` when the table has no rows (or not even a header)."""
    if frame.empty:
        raise SourceError(
            f"{where} has a header ({len(frame.columns)} columns) but no rows"
            if len(frame.columns)
            else f"{where} is empty: no header and no rows"
        )


def mixed_columns_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns mixing text and numbers (a CSV's '12,5' beside 12.5) as text, so they
    survive Parquet; validation parses them and quarantines what does not parse."""
    frame = frame.copy(deep=False)
    for col in frame.select_dtypes(include="object").columns:
        if pd.api.types.infer_dtype(frame[col], skipna=True) not in ("string", "empty"):
            frame[col] = frame[col].astype("string").astype(object).where(frame[col].notna())
    return frame
