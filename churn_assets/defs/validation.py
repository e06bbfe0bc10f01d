"""Group validation: validated rows, quarantined rows, and the blocking data-quality checks.

The checks are computed in the same step as the validation (from its report), so a 1M-row table is
read once; each is `blocking`, so a failure stops the features and everything after them.
"""

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MetadataValue, multi_asset

from churn_assets.defs.checks import (
    CHECKS,  # noqa: F401 - read here by tests
    ValidationConfig,
    blocking_specs,
    quality_checks,
    quarantine_output,
    selected_checks,
    split_outs,
)
from churn_assets.defs.metadata import preview, push_metrics, table_md, versioned
from churn_assets.ml.validation import ROW_COLUMN, ValidationResult, validate
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.parquet_io import ARROW_TEXT


@multi_asset(
    outs=split_outs(
        "validated_dataset",
        "quarantined_rows",
        "validation",
        "Rows that pass the row-level rules, typed, with a 0/1 target `churned`.",
        "Rows that fail a rule, with their raw values and every reason.",
    ),
    check_specs=blocking_specs("validated_dataset"),
    can_subset=True,  # `--select "*promoted_model"` needs validated_dataset without quarantine
    ins={"raw_dataset": AssetIn(metadata={ARROW_TEXT: True})},  # text as stored: Arrow
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
    # Stored only (every reader loads str/None, or Arrow text): Arrow text encodes faster.
    result = validate(raw_dataset, spec, arrow_text=True)
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
        yield quarantine_output(result.quarantined, report.reasons, "quarantined_rows")
    checks = quality_checks(
        report, len(raw_dataset), result.valid[ROW_COLUMN], result.quarantined[ROW_COLUMN], config
    )
    yield from selected_checks(context, checks)


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
