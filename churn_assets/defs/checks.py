"""The blocking data-quality checks shared by the training table and the incoming batches.

Both `validate_dataset` (validation group) and `customer_batch` (monitoring group) split rows
into kept and quarantined with `ml.validation.validate` and judge the split with the same checks;
this module builds their outputs, check specs and check results once.
"""

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetOut,
    Config,
    MetadataValue,
)
from pydantic import Field

from churn_assets.constants import OWNERS
from churn_assets.ml.validation import ValidationReport

CHECKS = {
    "schema_compliance": "required columns present and each numeric column's values parse",
    "missing_values": "missing-value rate of every feature column at most the threshold",
    "duplicate_ids": "share of rows repeating an earlier id at most the threshold",
    "target_balance": "share of churners within bounds",
    "row_accounting": "rows in = rows kept + rows quarantined, exactly",
    "quality_score": "quality score (0-100) at least the threshold",
}
UNLABELED_CHECKS = {k: v for k, v in CHECKS.items() if k != "target_balance"}


class ValidationConfig(Config):
    """Thresholds of the blocking data-quality checks."""

    max_invalid_rate: float = Field(0.05, description="Max share of unparseable values per column.")
    max_missing_rate: float = Field(0.3, description="Max missing-value rate per feature column.")
    max_duplicate_rate: float = Field(0.05, description="Max share of duplicate-id rows.")
    min_positive_rate: float = Field(0.01, description="Min share of churners.")
    max_positive_rate: float = Field(0.99, description="Max share of churners.")
    min_quality_score: float = Field(80.0, description="Min quality score (0-100).")


def split_outs(
    kept: str, quarantined: str, group: str, kept_text: str, quarantined_text: str
) -> dict[str, AssetOut]:
    """The two Parquet outputs of a validation step: kept rows and quarantined rows."""
    return {
        name: AssetOut(
            group_name=group, kinds={"pandas", "parquet"}, owners=OWNERS, description=text
        )
        for name, text in ((kept, kept_text), (quarantined, quarantined_text))
    }


def blocking_specs(asset: str, labeled: bool = True) -> list[AssetCheckSpec]:
    """One blocking check spec per data-quality check of `asset` (no target balance unlabeled)."""
    checks = CHECKS if labeled else UNLABELED_CHECKS
    return [
        AssetCheckSpec(name, asset=asset, description=text, blocking=True)
        for name, text in checks.items()
    ]


def _check(
    asset_key: str, name: str, passed: bool, observed, threshold, **extra
) -> AssetCheckResult:
    return AssetCheckResult(
        check_name=name,
        asset_key=asset_key,
        passed=bool(passed),
        severity=AssetCheckSeverity.ERROR,
        description=CHECKS[name],
        metadata={"observed": observed, "threshold": threshold, **extra},
    )


def quality_checks(
    report: ValidationReport,
    rows_in: int,
    kept_rows: pd.Series,
    quarantined_rows: pd.Series,
    config: ValidationConfig,
    asset_key: str = "validated_dataset",
    labeled: bool = True,
) -> list[AssetCheckResult]:
    """The six check results, each with its observed value and threshold.

    For unlabeled batches (`labeled=False`) the target balance check is left out.

    Row accounting compares the source row numbers on both sides with the raw row count, so a row
    dropped or duplicated by any rule is caught, not just a wrong total.
    """
    n = rows_in
    kept, quarantined = len(kept_rows), len(quarantined_rows)
    seen = np.sort(np.concatenate([kept_rows.to_numpy(), quarantined_rows.to_numpy()]))
    accounted = len(seen) == n and bool(np.array_equal(seen, np.arange(n)))
    invalid = {c: v / n for c, v in report.invalid_values.items()}
    worst_invalid = max(invalid, key=invalid.get, default=None)
    worst_missing = max(report.missing_rate, key=report.missing_rate.get, default=None)
    missing = report.missing_rate.get(worst_missing, 0.0) if worst_missing else 0.0
    results = [
        _check(
            asset_key,
            "schema_compliance",
            all(rate <= config.max_invalid_rate for rate in invalid.values()),
            float(invalid.get(worst_invalid, 0.0)) if worst_invalid else 0.0,
            config.max_invalid_rate,
            worst_column=str(worst_invalid),
            invalid_values=MetadataValue.json(report.invalid_values),
        ),
        _check(
            asset_key,
            "missing_values",
            missing <= config.max_missing_rate,
            float(missing),
            config.max_missing_rate,
            worst_column=str(worst_missing),
            missing_rate=MetadataValue.json(
                {k: round(v, 5) for k, v in report.missing_rate.items()}
            ),
        ),
        _check(
            asset_key,
            "duplicate_ids",
            report.duplicate_rate <= config.max_duplicate_rate,
            float(report.duplicate_rate),
            config.max_duplicate_rate,
            duplicate_rows=report.duplicate_ids,
        ),
        _check(
            asset_key,
            "target_balance",
            config.min_positive_rate <= report.positive_rate <= config.max_positive_rate,
            float(report.positive_rate),
            f"[{config.min_positive_rate}, {config.max_positive_rate}]",
        ),
        _check(
            asset_key,
            "row_accounting",
            accounted,
            kept + quarantined,
            n,
            rows_in=n,
            rows_kept=kept,
            rows_quarantined=quarantined,
        ),
        _check(
            asset_key,
            "quality_score",
            report.quality_score >= config.min_quality_score,
            float(report.quality_score),
            config.min_quality_score,
            formula="100 x kept/rows_in x (1 - mean missing-cell rate of feature columns)",
        ),
    ]
    return [r for r in results if labeled or r.check_name != "target_balance"]
