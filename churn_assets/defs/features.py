"""Group features: the train/test split and the feature spec the model Pipelines are built from."""

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from churn_assets.constants import OWNERS
from churn_assets.defs.metadata import table_md
from churn_assets.ml.features import SPLIT, build_features, build_preprocessor, feature_spec
from churn_assets.ml.validation import TARGET, typed_columns
from churn_assets.resources.dataset import DatasetResource

FEATURE_SPEC_ATTR = "feature_spec"  # kept in the Parquet file's pandas attrs


@asset(
    group_name="features",
    kinds={"pandas", "sklearn", "parquet"},
    owners=OWNERS,
    description="Validated rows with a train/test split column; inputs of every model Pipeline.",
)
def features(
    context: AssetExecutionContext, dataset: DatasetResource, validated_dataset: pd.DataFrame
) -> Output[pd.DataFrame]:
    """Split the validated rows (seeded, stratified; time-based or publisher's split when the spec
    says) and record the feature spec. The preprocessing itself stays unfitted here: it is fitted
    inside each model Pipeline on the training rows only. Raises ValueError when a split would
    lack a class."""
    spec = dataset.load_spec()
    types = typed_columns(validated_dataset, spec)
    fspec = feature_spec(spec, types)
    table = build_features(validated_dataset, spec, fspec, spec.id_name)
    table.attrs[FEATURE_SPEC_ATTR] = fspec.to_dict()
    # Building the preprocessor here proves the spec is consistent before any training starts.
    preprocessor = build_preprocessor(fspec)
    balance = (
        table.groupby(SPLIT)[TARGET]
        .agg(rows="size", churners="sum", positive_rate="mean")
        .reset_index()
    )
    context.log.info(f"split: {balance.to_dict(orient='records')}")
    return Output(
        table,
        metadata={
            "train_rows": int((table[SPLIT] == "train").sum()),
            "test_rows": int((table[SPLIT] == "test").sum()),
            "class_balance": table_md(balance),
            "numeric_features": MetadataValue.json(list(fspec.numeric)),
            "categorical_features": MetadataValue.json(list(fspec.categorical)),
            "engineered_features": MetadataValue.json(fspec.engineered),
            "preprocessing": MetadataValue.md(f"```\n{preprocessor}\n```"),
        },
    )
