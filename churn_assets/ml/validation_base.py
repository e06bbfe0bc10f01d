"""Names and result types shared by the validation modules (no logic beyond small properties)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

TARGET = "churned"  # the 0/1 target column in validated data, whatever the source calls it
ROW_COLUMN = "_source_row"  # the raw row number, on both kept and quarantined rows
REASONS_COLUMN = "_reasons"  # why a quarantined row was quarantined
SPLIT = "split"  # "train" | "test" in the features table
DEFAULT_ID = "row_id"  # the id column when the source has none (row numbers)
PROVENANCE = "_provenance"  # where a training row came from: "source" or "batch <file>"


class SchemaError(ValueError):
    """The table as a whole does not fit the dataset spec."""


@dataclass
class ColumnTypes:
    numeric: list[str]
    categorical: list[str]
    excluded: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    how: dict[str, str] = field(default_factory=dict)  # column -> "declared" | "inferred: ..."


@dataclass
class Problem:
    """Rows failing one rule: `mask` marks them, `message(positions)` words each reason."""

    rule: str
    mask: np.ndarray
    message: Callable[[np.ndarray], np.ndarray]


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


def constant(text: str) -> Callable[[np.ndarray], np.ndarray]:
    """A message function giving every failing row the same reason."""
    return lambda hit: np.full(len(hit), text, dtype=object)


def quoted(prefix: str, values: pd.Series, suffix: str) -> Callable[[np.ndarray], np.ndarray]:
    """A message function quoting each failing row's value between `prefix` and `suffix`."""
    return lambda hit: (prefix + values.iloc[hit].astype(str) + suffix).to_numpy()
