"""Group validation: validated rows, quarantined rows, and the blocking data-quality checks.

The checks are computed in the same step as the validation (from its report), so a 1M-row table is
read once; each is `blocking`, so a failure stops the features and everything after them.
"""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetOut,
    Config,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from churn_assets.constants import OWNERS
from churn_assets.defs.metadata import preview, push_metrics, table_md, versioned
from churn_assets.ml.validation import (
    REASONS_COLUMN,
    ROW_COLUMN,
    ValidationReport,
    ValidationResult,
    validate,
)
from churn_assets.ml.validation_checks import CHECKS, CheckOutcome, Thresholds, evaluate_checks
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.metrics import MetricsResource


class ValidationConfig(Config):
    """Thresholds of the blocking data-quality checks."""

    max_invalid_rate: float = Field(0.05, description="Max share of unparseable values per column.")
    max_missing_rate: float = Field(0.3, description="Max missing-value rate per feature column.")
    max_duplicate_rate: float = Field(0.05, description="Max share of duplicate-id rows.")
    min_positive_rate: float = Field(0.01, description="Min share of churners.")
    max_positive_rate: float = Field(0.99, description="Max share of churners.")
    min_quality_score: float = Field(80.0, description="Min quality score (0-100).")


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


@multi_asset(
    outs={
        "validated_dataset": AssetOut(
            group_name="validation",
            kinds={"pandas", "parquet"},
            owners=OWNERS,
            description="Rows that pass the row-level rules, typed, with a 0/1 target `churned`.",
            is_required=False,
        ),
        "quarantined_rows": AssetOut(
            group_name="validation",
            kinds={"pandas", "parquet"},
            owners=OWNERS,
            description="Rows that fail a rule, with their raw values and every reason.",
            is_required=False,
        ),
    },
    check_specs=[
        AssetCheckSpec(name, asset="validated_dataset", description=text, blocking=True)
        for name, text in CHECKS.items()
    ],
    can_subset=True,  # `--select "*promoted_model"` needs validated_dataset without quarantine
)
def validate_dataset(
    context: AssetExecutionContext,
    config: ValidationConfig,
    dataset: DatasetResource,
    metrics: MetricsResource,
    raw_dataset: pd.DataFrame,
):
    """Split raw rows into validated and quarantined; yields the selected ones and, with
    validated_dataset, the six blocking checks.

    Raises SchemaError when the table as a whole does not fit the spec (no target column, a
    non-binary target, declared columns missing, a source column named like an internal one).
    """
    spec = dataset.load_spec()
    result = validate(raw_dataset, spec)
    report = result.report
    context.log.info(
        f"{report.rows_kept} rows kept, {report.rows_quarantined} quarantined "
        f"({report.reasons}); quality score {report.quality_score}"
    )
    selected = context.op_execution_context.selected_output_names
    if "validated_dataset" in selected:
        pushed = push_metrics(
            context,
            "data quality",
            lambda: metrics.record_data_quality(
                spec.name,
                report.rows_in,
                report.rows_kept,
                report.rows_quarantined,
                report.quality_score,
            ),
        )
        yield versioned(
            result.valid, output_name="validated_dataset", metadata={**pushed, **_metadata(result)}
        )
    if "quarantined_rows" in selected:
        yield versioned(
            result.quarantined,
            output_name="quarantined_rows",
            metadata={
                "rows": len(result.quarantined),
                "reasons": MetadataValue.json(report.reasons),
                "preview": preview(result.quarantined[[ROW_COLUMN, REASONS_COLUMN]], rows=10),
            },
        )
    checks = quality_checks(
        report, len(raw_dataset), result.valid[ROW_COLUMN], result.quarantined[ROW_COLUMN], config
    )
    wanted = {key.name for key in context.selected_asset_check_keys}
    yield from (check for check in checks if check.check_name in wanted)


def _metadata(result: ValidationResult) -> dict:
    report, types = result.report, result.report.types
    inference = pd.DataFrame(
        [{"column": c, "role": "feature", "how": h} for c, h in types.how.items()]
        + [{"column": c, "role": "excluded", "how": why} for c, why in types.excluded.items()]
    )
    return {
        "rows_in": report.rows_in,
        "rows_kept": report.rows_kept,
        "rows_quarantined": report.rows_quarantined,
        "quality_score": report.quality_score,
        "positive_rate": round(report.positive_rate, 5),
        "numeric_columns": MetadataValue.json(types.numeric),
        "categorical_columns": MetadataValue.json(types.categorical),
        "column_types": table_md(inference),
        "quarantine_reasons": MetadataValue.json(report.reasons),
        "preview": preview(result.valid),
    }
