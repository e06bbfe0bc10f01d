"""An incoming batch file, validated with the training rules: kept rows and quarantined rows.

Batches are dynamic partitions keyed by file name: files arrive when they arrive (several a day,
or none), each file is one unit of work to retry or backfill, and a name says more in the UI than
a date.
"""

from dagster import (
    AssetExecutionContext,
    AssetIn,
    DynamicPartitionsDefinition,
    Output,
    multi_asset,
)

from churn_assets.defs.checks import (
    UNLABELED_CHECKS,
    ValidationConfig,
    blocking_specs,
    quality_checks,
    quarantine_output,
    selected_checks,
    split_outs,
)
from churn_assets.defs.metadata import preview
from churn_assets.ml.sources import file_format, read_bytes
from churn_assets.ml.validation import ROW_COLUMN, TARGET, validate
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.landing import LandingResource

batches = DynamicPartitionsDefinition(name="customer_batches")
BATCH_CHECKS = UNLABELED_CHECKS


@multi_asset(
    outs=split_outs(
        "customer_batch",
        "batch_quarantine",
        "monitoring",
        "An incoming batch file, validated with the training rules.",
        "Rows of the batch that failed a rule, with every reason.",
    ),
    ins={"feature_spec": AssetIn()},
    partitions_def=batches,
    check_specs=blocking_specs("customer_batch", labeled=False),
    can_subset=True,  # `--select "*drift_report"` needs customer_batch without the quarantine
)
def customer_batch(
    context: AssetExecutionContext,
    config: ValidationConfig,
    dataset: DatasetResource,
    landing: LandingResource,
    feature_spec: dict,
):
    """Read the partition's file from the landing location and validate it as training data was,
    with the column types of the training features (`feature_spec`); yields the selected outputs
    and, with customer_batch, its blocking checks. Raises SourceError naming the file when it
    does not parse, so the run fails clearly and the sensor moves on."""
    name = context.partition_key
    spec = dataset.load_spec()
    spec = spec.model_copy(
        update={
            "numeric_columns": feature_spec["numeric"],
            "categorical_columns": feature_spec["categorical"],
        }
    )
    raw = read_bytes(landing.read(name), landing.uri(name), file_format(name), spec.source)
    result = validate(raw, spec, require_target=False)
    report = result.report
    labeled = TARGET in result.valid.columns and result.valid[TARGET].notna().any()
    selected = context.op_execution_context.selected_output_names
    if "customer_batch" in selected:
        yield Output(
            result.valid,
            output_name="customer_batch",
            metadata={
                "file": landing.uri(name),
                "rows_in": report.rows_in,
                "rows_kept": report.rows_kept,
                "rows_quarantined": report.rows_quarantined,
                "quality_score": report.quality_score,
                "labeled": bool(labeled),
                "preview": preview(result.valid),
            },
        )
    if "batch_quarantine" in selected:
        yield quarantine_output(result.quarantined, report.reasons, "batch_quarantine")
    checks = quality_checks(
        report,
        len(raw),
        result.valid[ROW_COLUMN],
        result.quarantined[ROW_COLUMN],
        config,
        asset_key="customer_batch",
        labeled=False,
    )
    yield from selected_checks(context, checks)
