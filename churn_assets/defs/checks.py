"""The blocking data-quality checks shared by the training table and the incoming batches.

Both `validate_dataset` (validation group) and `customer_batch` (monitoring group) split rows
into kept and quarantined with `ml.validation.validate` and judge the split with the same checks
(the arithmetic is `ml.validation_checks`); this module builds their outputs, check specs and
check results once.
"""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetOut,
    Config,
    MetadataValue,
    Output,
)
from pydantic import Field

from churn_assets.constants import OWNERS
from churn_assets.defs.metadata import preview, versioned
from churn_assets.ml.validation import REASONS_COLUMN, ROW_COLUMN, ValidationReport
from churn_assets.ml.validation_checks import CHECKS, CheckOutcome, Thresholds, evaluate_checks

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
    """The two Parquet outputs of a validation step, kept rows and quarantined rows; each may be
    selected alone (the multi-asset is subsettable)."""
    return {
        name: AssetOut(
            group_name=group,
            kinds={"pandas", "parquet"},
            owners=OWNERS,
            description=text,
            is_required=False,
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


def _result(asset_key: str, outcome: CheckOutcome) -> AssetCheckResult:
    extra = {
        k: MetadataValue.json(v) if isinstance(v, dict) else v for k, v in outcome.extra.items()
    }
    if outcome.name in ("schema_compliance", "missing_values"):
        extra["worst_column"] = str(outcome.column)
    return AssetCheckResult(
        check_name=outcome.name,
        asset_key=asset_key,
        passed=bool(outcome.passed),
        severity=AssetCheckSeverity.ERROR,
        description=CHECKS[outcome.name],
        metadata={"observed": outcome.observed, "threshold": outcome.threshold, **extra},
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
    """The check results of `ml.validation_checks`, each with its observed value and threshold."""
    limits = Thresholds(**config.model_dump())
    outcomes = evaluate_checks(
        report, rows_in, kept_rows.to_numpy(), quarantined_rows.to_numpy(), limits, labeled
    )
    return [_result(asset_key, o) for o in outcomes]


def selected_checks(context, checks: list[AssetCheckResult]) -> list[AssetCheckResult]:
    """The check results the run selected (a subset run may leave some or all out)."""
    wanted = {key.name for key in context.selected_asset_check_keys}
    return [check for check in checks if check.check_name in wanted]


def quarantine_output(quarantined: pd.DataFrame, reasons: dict, output_name: str) -> Output:
    """The quarantined rows with their count, reasons and a preview of row numbers and reasons;
    its data version is the content hash."""
    return versioned(
        quarantined,
        output_name=output_name,
        metadata={
            "rows": len(quarantined),
            "reasons": MetadataValue.json(reasons),
            "preview": preview(quarantined[[ROW_COLUMN, REASONS_COLUMN]], rows=10),
        },
    )
