"""Jobs over the asset graph."""

from dagster import AssetSelection, define_asset_job

data_job = define_asset_job(
    "data_job",
    selection=AssetSelection.groups("ingestion", "validation", "features"),
    description="Load, validate and split: raw_dataset -> validated_dataset -> features.",
)

training_job = define_asset_job(
    "training_job",
    selection=AssetSelection.groups("ingestion", "validation", "features", "training", "registry"),
    description="The whole training lineage: raw data to the promoted model.",
    tags={"churn/operation": "training"},
)
