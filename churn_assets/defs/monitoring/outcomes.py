"""Churn outcomes from the outcomes landing, merged into one table: the newest outcome per id.

Outcome files (`id, churned, observed_at`; CSV or Parquet) arrive weeks after scoring, in their
own landing location. Every materialization reads all of them again (outcomes are small, and a
corrected file then simply replaces what it said before), checks each row (`ml/outcomes.py`)
against the ids of every scored batch, and records per batch a fingerprint of its outcomes so
the outcomes sensor re-materializes exactly the `realized_performance` partitions that changed.
"""

import hashlib

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    MetadataValue,
    multi_asset,
)

from churn_assets.constants import OWNERS
from churn_assets.defs.metadata import preview, versioned
from churn_assets.ml.outcomes import FILE, ID, LABEL, ROW, merge_outcomes
from churn_assets.ml.validation_base import REASONS_COLUMN
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.landing import LandingResource
from churn_assets.resources.outcome_files import read_outcome_files

OUTCOMES_ASSET = "churn_outcomes"


def _out(description: str) -> AssetOut:
    return AssetOut(
        group_name="monitoring", kinds={"pandas", "parquet"}, owners=OWNERS, description=description
    )


@multi_asset(
    outs={
        OUTCOMES_ASSET: _out("The newest churn outcome of each scored customer id."),
        "outcome_quarantine": _out("Outcome rows not used, each with its reason."),
    },
    ins={"batch_predictions": AssetIn(metadata={"allow_missing_partitions": True})},
    check_specs=[
        AssetCheckSpec("outcome_files_readable", asset=OUTCOMES_ASSET),
        AssetCheckSpec("outcome_row_accounting", asset=OUTCOMES_ASSET, blocking=True),
    ],
)
def churn_outcomes(
    context: AssetExecutionContext,
    dataset: DatasetResource,
    outcomes_landing: LandingResource,
    batch_predictions,  # {partition: frame}; a frame when one exists, None when none
):
    """Read every outcome file, check its rows against the scored ids (all `batch_predictions`
    partitions stored so far) and keep the newest outcome per id. A file that does not parse or
    lacks a column is refused whole, named in the `outcome_files_readable` warning with why;
    the other files still count. Raises ValueError when the dataset spec has no id column."""
    spec = dataset.load_spec()
    if not spec.id_column:
        raise ValueError(
            f"dataset spec '{spec.name}' has no id_column, so outcomes cannot be joined to "
            "scored customers; set id_column in the spec"
        )
    frames, refused = read_outcome_files(outcomes_landing)
    for name, why in refused.items():
        context.log.warning(f"outcome file {name} refused: {why}")
    if isinstance(batch_predictions, pd.DataFrame):  # the IO manager unwraps a single partition
        [key] = context.asset_partition_keys_for_input("batch_predictions")
        batch_predictions = {key: batch_predictions}
    scored = {p: f for p, f in (batch_predictions or {}).items() if f is not None}
    ids = {p: _ids(frame, spec.id_name) for p, frame in scored.items()}
    merged = merge_outcomes(frames, set().union(*ids.values()) if ids else set())
    per_batch = _fingerprints(merged.kept, ids)
    yield versioned(
        merged.kept,
        output_name=OUTCOMES_ASSET,
        metadata={
            "files": MetadataValue.json(sorted(frames)),
            "rows_in": merged.rows_in,
            "outcomes_kept": len(merged.kept),
            "rows_quarantined": len(merged.quarantined),
            "reasons": MetadataValue.json(merged.reasons),
            "conflicting_ids": merged.conflicting_ids,
            "churn_rate": float(merged.kept[LABEL].mean()) if len(merged.kept) else 0.0,
            "batch_outcomes": MetadataValue.json(per_batch),
            "preview": preview(merged.kept),
        },
    )
    yield versioned(
        merged.quarantined,
        output_name="outcome_quarantine",
        metadata={
            "rows": len(merged.quarantined),
            "reasons": MetadataValue.json(merged.reasons),
            "preview": preview(merged.quarantined[[FILE, ROW, ID, REASONS_COLUMN]], rows=10),
        },
    )
    yield AssetCheckResult(
        check_name="outcome_files_readable",
        asset_key=OUTCOMES_ASSET,
        passed=not refused,
        severity=AssetCheckSeverity.WARN,
        metadata={"observed": MetadataValue.json(refused), "threshold": "every file readable"},
    )
    yield AssetCheckResult(
        check_name="outcome_row_accounting",
        asset_key=OUTCOMES_ASSET,
        passed=len(merged.kept) + len(merged.quarantined) == merged.rows_in,
        metadata={
            "observed": f"{len(merged.kept)} kept + {len(merged.quarantined)} quarantined",
            "threshold": f"= {merged.rows_in} rows in",
        },
    )


def _ids(frame: pd.DataFrame, id_name: str) -> set[str]:
    return set(frame[id_name].astype("string").str.strip().dropna())


def _fingerprints(kept: pd.DataFrame, ids: dict[str, set[str]]) -> dict[str, dict]:
    """Per batch with outcomes: how many, and a hash of its (id, label) pairs, which changes
    exactly when the batch's realized performance has to be computed again."""
    found = {}
    for batch, batch_ids in sorted(ids.items()):
        rows = kept[kept[ID].isin(batch_ids)].sort_values(ID)
        if len(rows):
            text = "\n".join(rows[ID] + "," + rows[LABEL].astype(str))
            digest = hashlib.sha256(text.encode()).hexdigest()[:16]
            found[batch] = {"outcomes": len(rows), "fingerprint": digest}
    return found
