"""The data-quality checks over a whole table: each compares one observed rate with its threshold.

Pure arithmetic on a `ValidationReport` and the row numbers on both sides; `defs/validation.py`
turns each `CheckOutcome` into a Dagster `AssetCheckResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from churn_assets.ml.validation_base import ValidationReport

CHECKS = {
    "schema_compliance": "required columns present and each numeric column's values parse",
    "missing_values": "missing-value rate of every feature column at most the threshold",
    "duplicate_ids": "share of rows repeating an earlier id at most the threshold",
    "target_balance": "share of churners within bounds",
    "row_accounting": "rows in = rows kept + rows quarantined, exactly",
    "quality_score": "quality score (0-100) at least the threshold",
}


@dataclass(frozen=True)
class Thresholds:
    """Thresholds of the checks (defaults live in `defs.validation.ValidationConfig`)."""

    max_invalid_rate: float
    max_missing_rate: float
    max_duplicate_rate: float
    min_positive_rate: float
    max_positive_rate: float
    min_quality_score: float


@dataclass(frozen=True)
class CheckOutcome:
    """One check: passed or not, what was observed, the threshold, and the column it concerns."""

    name: str
    passed: bool
    observed: float | int
    threshold: float | str
    column: str | None = None
    extra: dict = field(default_factory=dict)


def rows_accounted(rows_in: int, kept_rows: np.ndarray, quarantined_rows: np.ndarray) -> bool:
    """True when the source row numbers on both sides are exactly 0..rows_in-1, each once."""
    seen = np.sort(np.concatenate([np.asarray(kept_rows), np.asarray(quarantined_rows)]))
    return len(seen) == rows_in and bool(np.array_equal(seen, np.arange(rows_in)))


def worst(rates: dict[str, float]) -> tuple[str | None, float]:
    """The column with the highest rate and that rate (None, 0.0 for no columns)."""
    column = max(rates, key=rates.get, default=None)
    return column, float(rates[column]) if column is not None else 0.0


def evaluate_checks(
    report: ValidationReport,
    rows_in: int,
    kept_rows: np.ndarray,
    quarantined_rows: np.ndarray,
    limits: Thresholds,
    labeled: bool = True,
) -> list[CheckOutcome]:
    """The six checks of `CHECKS` (without target_balance for unlabeled batches).

    Row accounting compares the source row numbers on both sides with the raw row count, so a row
    dropped or duplicated by any rule is caught, not just a wrong total.
    """
    n = rows_in
    invalid_col, invalid = worst({c: v / n for c, v in report.invalid_values.items()} if n else {})
    missing_col, missing = worst(report.missing_rate)
    positive = report.positive_rate
    kept, quarantined = len(kept_rows), len(quarantined_rows)
    outcomes = [
        CheckOutcome(
            "schema_compliance", invalid <= limits.max_invalid_rate, invalid,
            limits.max_invalid_rate, invalid_col, {"invalid_values": report.invalid_values},
        ),
        CheckOutcome(
            "missing_values", missing <= limits.max_missing_rate, missing,
            limits.max_missing_rate, missing_col,
            {"missing_rate": {k: round(v, 5) for k, v in report.missing_rate.items()}},
        ),
        CheckOutcome(
            "duplicate_ids", report.duplicate_rate <= limits.max_duplicate_rate,
            float(report.duplicate_rate), limits.max_duplicate_rate, None,
            {"duplicate_rows": report.duplicate_ids},
        ),
        CheckOutcome(
            "target_balance", limits.min_positive_rate <= positive <= limits.max_positive_rate,
            float(positive), f"[{limits.min_positive_rate}, {limits.max_positive_rate}]",
        ),
        CheckOutcome(
            "row_accounting", rows_accounted(n, kept_rows, quarantined_rows), kept + quarantined,
            n, None, {"rows_in": n, "rows_kept": kept, "rows_quarantined": quarantined},
        ),
        CheckOutcome(
            "quality_score", report.quality_score >= limits.min_quality_score,
            float(report.quality_score), limits.min_quality_score, None,
            {"formula": "100 x kept/rows_in x (1 - mean missing-cell rate of feature columns)"},
        ),
    ]  # fmt: skip
    return [o for o in outcomes if labeled or o.name != "target_balance"]
