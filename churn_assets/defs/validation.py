"""Group validation: validated rows, quarantined rows, and the blocking data-quality checks.

The checks are computed in the same step as the validation (from its report), so a 1M-row table is
read once; each is `blocking`, so a failure stops the features and everything after them.
"""

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetOut,
    Config,
    MetadataValue,
    Output,
    multi_asset,
)
from pydantic import Field

from churn_assets.defs.metadata import preview, push_metrics, table_md
from churn_assets.ml.validation import REASONS_COLUMN, ROW_COLUMN, ValidationReport, validate
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.metrics import MetricsResource

CHECKS = {
    "schema_compliance": "required columns present and each numeric column's values parse",
    "missing_values": "missing-value rate of every feature column at most the threshold",
    "duplicate_ids": "share of rows repeating an earlier id at most the threshold",
    "target_balance": "share of churners within bounds",
    "row_accounting": "rows in = rows kept + rows quarantined, exactly",
    "quality_score": "quality score (0-100) at least the threshold",
}


class ValidationConfig(Config):
    """Thresholds of the blocking data-quality checks."""

    max_invalid_rate: float = Field(0.05, description="Max share of unparseable values per column.")
    max_missing_rate: float = Field(0.3, description="Max missing-value rate per feature column.")
    max_duplicate_rate: float = Field(0.05, description="Max share of duplicate-id rows.")
    min_positive_rate: float = Field(0.01, description="Min share of churners.")
    max_positive_rate: float = Field(0.99, description="Max share of churners.")
    min_quality_score: float = Field(80.0, description="Min quality score (0-100).")


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


@multi_asset(
    outs={
        "validated_dataset": AssetOut(
            group_name="validation",
            kinds={"pandas", "parquet"},
            owners=["team:ml-platform"],
            description="Rows that pass the row-level rules, typed, with a 0/1 target `churned`.",
        ),
        "quarantined_rows": AssetOut(
            group_name="validation",
            kinds={"pandas", "parquet"},
            owners=["team:ml-platform"],
            description="Rows that fail a rule, with their raw values and every reason.",
        ),
    },
    check_specs=[
        AssetCheckSpec(name, asset="validated_dataset", description=text, blocking=True)
        for name, text in CHECKS.items()
    ],
)
def validate_dataset(
    context: AssetExecutionContext,
    config: ValidationConfig,
    dataset: DatasetResource,
    metrics: MetricsResource,
    raw_dataset: pd.DataFrame,
):
    """Split raw rows into validated and quarantined; yields both and the six blocking checks.

    Raises SchemaError when the table as a whole does not fit the spec (no target column, a
    non-binary target, declared columns missing).
    """
    spec = dataset.load_spec()
    result = validate(raw_dataset, spec)
    report = result.report
    types = report.types
    context.log.info(
        f"{report.rows_kept} rows kept, {report.rows_quarantined} quarantined "
        f"({report.reasons}); quality score {report.quality_score}"
    )
    inference = pd.DataFrame(
        [{"column": c, "role": "feature", "how": h} for c, h in types.how.items()]
        + [{"column": c, "role": "excluded", "how": why} for c, why in types.excluded.items()]
    )
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
    yield Output(
        result.valid,
        output_name="validated_dataset",
        metadata={
            **pushed,
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
        },
    )
    yield Output(
        result.quarantined,
        output_name="quarantined_rows",
        metadata={
            "rows": len(result.quarantined),
            "reasons": MetadataValue.json(report.reasons),
            "preview": preview(result.quarantined[[ROW_COLUMN, REASONS_COLUMN]], rows=10),
        },
    )
    yield from quality_checks(
        report,
        len(raw_dataset),
        result.valid[ROW_COLUMN],
        result.quarantined[ROW_COLUMN],
        config,
    )
