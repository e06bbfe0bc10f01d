"""Group features: the feature spec, and the train/test split the model Pipelines are built from.

The spec is its own asset (a JSON record) so that what training and monitoring read about the
columns is an explicit, stored input with its own lineage and data version, not something
carried along inside the features table.
"""

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MetadataValue, Output, asset

from churn_assets.constants import OWNERS
from churn_assets.defs.metadata import table_md, versioned
from churn_assets.ml.evaluation.decisions import decision_entries
from churn_assets.ml.evaluation.segments import check_segment_values
from churn_assets.ml.features import (
    SPLIT,
    FeatureSpec,
    build_features,
    build_preprocessor,
)
from churn_assets.ml.features import (
    feature_spec as derive_feature_spec,
)
from churn_assets.ml.validation import TARGET, typed_columns
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.parquet_io import ARROW_TEXT, SCHEMA_ONLY


@asset(
    group_name="features",
    kinds={"sklearn"},
    owners=OWNERS,
    description="The model input columns (numeric, categorical) and the engineered features.",
    # Only the column types are read: the stored table's schema, not its million rows.
    ins={"validated_dataset": AssetIn(metadata={SCHEMA_ONLY: True})},
)
def feature_spec(dataset: DatasetResource, validated_dataset: pd.DataFrame) -> Output[dict]:
    """Read the validated column types (the stored schema: `validated_dataset` arrives with no
    rows) and the dataset spec's engineered features; returns `FeatureSpec.to_dict()` (load it
    with `FeatureSpec.from_dict`) plus the spec's `segments` and `economics` when declared.
    Raises ValueError when the preprocessing it describes cannot be built, SpecError when a
    segment is not an input column."""
    spec = dataset.load_spec()
    fspec = derive_feature_spec(spec, typed_columns(validated_dataset, spec))
    # Building the preprocessor here proves the spec is consistent before any training starts.
    preprocessor = build_preprocessor(fspec)
    # Segments and economics ride along (checked against the data) only when the spec has them.
    record = {**fspec.to_dict(), **decision_entries(spec, fspec)}
    return versioned(
        record,
        metadata={
            "numeric_features": MetadataValue.json(list(fspec.numeric)),
            "categorical_features": MetadataValue.json(list(fspec.categorical)),
            "engineered_features": MetadataValue.json(fspec.engineered),
            "preprocessing": MetadataValue.md(f"```\n{preprocessor}\n```"),
        },
    )


@asset(
    group_name="features",
    kinds={"pandas", "sklearn", "parquet"},
    owners=OWNERS,
    description="Validated rows with a train/test split column; inputs of every model Pipeline.",
    ins={"validated_dataset": AssetIn(metadata={ARROW_TEXT: True})},  # text as Arrow strings
)
def features(
    context: AssetExecutionContext,
    dataset: DatasetResource,
    validated_dataset: pd.DataFrame,
    feature_spec: dict,
) -> Output[pd.DataFrame]:
    """Split the validated rows (seeded, stratified; time-based or publisher's split when the spec
    says) keeping the id, the spec's input columns and the target. The preprocessing stays
    unfitted: it is fitted inside each model Pipeline on the training rows only. Raises ValueError
    when a split would lack a class, SpecError when a numeric segment without bins has too many
    distinct values."""
    spec = dataset.load_spec()
    check_segment_values(feature_spec, validated_dataset)
    table = build_features(
        validated_dataset, spec, FeatureSpec.from_dict(feature_spec), spec.id_name
    )
    balance = (
        table.groupby(SPLIT)[TARGET]
        .agg(rows="size", churners="sum", positive_rate="mean")
        .reset_index()
    )
    context.log.info(f"split: {balance.to_dict(orient='records')}")
    rows = dict(zip(balance[SPLIT], balance["rows"], strict=True))  # no second pass over SPLIT
    return versioned(
        table,
        metadata={
            "train_rows": int(rows.get("train", 0)),
            "test_rows": int(rows.get("test", 0)),
            "class_balance": table_md(balance),
        },
    )
