"""Group ingestion: the source table as loaded."""

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from churn_assets.constants import OWNERS
from churn_assets.defs.metadata import preview, versioned
from churn_assets.defs.retraining_set import with_outcome_rows
from churn_assets.ml.validation_types import text_as_arrow
from churn_assets.resources.dataset import DatasetResource


@asset(
    group_name="ingestion",
    kinds={"pandas", "parquet"},
    owners=OWNERS,
    description="The churn table as its source gives it (file, URL, SQL or synthetic generator).",
)
def raw_dataset(context: AssetExecutionContext, dataset: DatasetResource) -> Output[pd.DataFrame]:
    """Load the rows the dataset spec names; raises SourceError naming the source when it can't."""
    spec = dataset.load_spec()
    frame, outcome_rows = with_outcome_rows(context, dataset, spec, dataset.load_table(spec))
    frame = text_as_arrow(frame)  # Arrow text: cheap to store and reload
    context.log.info(f"loaded {len(frame)} rows x {frame.shape[1]} columns from {spec.name}")
    return versioned(
        frame,
        metadata={
            **outcome_rows,
            "dataset": spec.name,
            "source": dataset.describe(spec),
            "rows": len(frame),
            "columns": MetadataValue.json(list(map(str, frame.columns))),
            "preview": preview(frame),
        },
    )
