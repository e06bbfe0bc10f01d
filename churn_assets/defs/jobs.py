"""Jobs over the asset graph."""

from dagster import AssetSelection, define_asset_job

from churn_assets.constants import OPERATION_TAG

data_job = define_asset_job(
    "data_job",
    selection=AssetSelection.groups("ingestion", "validation", "features"),
    description="Load, validate and split: raw_dataset -> validated_dataset -> features.",
)

training_job = define_asset_job(
    "training_job",
    selection=AssetSelection.groups("ingestion", "validation", "features", "training", "registry")
    | AssetSelection.assets("drift_reference", "explain_baseline"),
    description="The whole training lineage: raw data to the promoted model.",
    tags={OPERATION_TAG: "training"},
)

monitoring_job = define_asset_job(
    "monitoring_job",
    selection=AssetSelection.assets(
        "customer_batch", "batch_quarantine", "batch_predictions", "drift_report"
    ),
    description="One incoming batch: validate, score with the champion, report drift.",
    tags={OPERATION_TAG: "monitoring"},
)

deployment_job = define_asset_job(
    "deployment_job",
    selection=AssetSelection.groups("deployment"),
    description="Roll the registry's champion out to the model server, smoke-test, roll back. "
    "Not part of training_job: a local run must not start servers as a side effect.",
    tags={"churn/operation": "deployment"},
)
