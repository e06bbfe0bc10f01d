"""The source table plus the scored batches whose outcomes arrived: what `raw_dataset` holds
when the dataset resource has `outcome_rows` (see `ml/retraining_set.py` for the rules)."""

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MetadataValue

from churn_assets.ml.outcomes import merge_outcomes
from churn_assets.ml.retraining_set import assemble
from churn_assets.ml.spec import DatasetSpec
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.outcome_files import read_outcome_files


def with_outcome_rows(
    context: AssetExecutionContext, dataset: DatasetResource, spec: DatasetSpec, source
) -> tuple[pd.DataFrame, dict]:
    """`source` with the outcome rows appended and a `_provenance` column, plus metadata that
    accounts for every row; unchanged (and no metadata) without `dataset.outcome_rows`.

    Only batches whose `batch_predictions` was materialized count (a batch stopped by its
    blocking checks was never scored); a scored file gone from the landing is listed."""
    rows = dataset.outcome_rows
    if rows is None:
        return source, {}
    scored = context.instance.get_materialized_partitions(AssetKey("batch_predictions"))
    present = set(rows.landing.list_batches())
    batches = rows.read_batches(sorted(scored & present), spec)
    files, refused = read_outcome_files(rows.outcomes_landing)
    ids = set()
    for frame in batches.values():
        if spec.id_column:
            ids |= set(frame[spec.id_column].astype("string").str.strip().dropna())
    outcomes = merge_outcomes(files, ids).kept
    result = assemble(source, spec, batches, outcomes, rows.window_days)
    context.log.info(f"training set: {result.summary()}")
    return result.frame, {
        **{k: v for k, v in result.summary().items() if not isinstance(v, dict)},
        "rows_from_batches": MetadataValue.json(result.batches),
        "outcome_window_days": rows.window_days or "all",
        "scored_batches_missing": MetadataValue.json(sorted(scored - present)),
        "outcome_files_refused": MetadataValue.json(refused),
    }
