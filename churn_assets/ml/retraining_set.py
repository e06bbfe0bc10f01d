"""The training set a retrain learns from: the source table plus scored batches with outcomes.

Without this, a drift-triggered retrain reads the same source and fits the same model. Here the
rows of scored batches whose churn outcome arrived join the source table, in the source's own
columns and labels, so they pass the same validation, split, checks and gate as source rows:
- only outcomes observed within `window_days` of the newest outcome count (None: all);
- an id scored in several batches takes its row from the last batch in file-name order (batch
  files carry dates by convention);
- a source row with the id of an outcome row is replaced by it (the outcome is newer), and
  counted in the report, so rows in = source rows - replaced + outcome rows exactly;
- `_provenance` says where each row came from: `source` or `batch <file>`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_assets.ml.labels import norm_label
from churn_assets.ml.outcomes import ID, LABEL, OBSERVED
from churn_assets.ml.sources import SPLIT_COLUMN
from churn_assets.ml.spec import DatasetSpec
from churn_assets.ml.validation_base import PROVENANCE


@dataclass(frozen=True)
class RetrainingSet:
    """The assembled table and its accounting."""

    frame: pd.DataFrame
    source_rows: int
    outcome_rows: int
    replaced_source_rows: int
    outside_window: int
    batches: dict[str, int]

    def summary(self) -> dict:
        return {
            "source_rows": self.source_rows,
            "outcome_rows": self.outcome_rows,
            "replaced_source_rows": self.replaced_source_rows,
            "outcomes_outside_window": self.outside_window,
            "rows_from_batches": self.batches,
        }


def assemble(
    source: pd.DataFrame,
    spec: DatasetSpec,
    batches: Mapping[str, pd.DataFrame],
    outcomes: pd.DataFrame,
    window_days: float | None,
) -> RetrainingSet:
    """Append the batch rows that have an outcome to the source table (module docstring).

    Args:
        source: the source table as read (raw columns, the spec's target and id).
        spec: the dataset spec (id, target and labels, split).
        batches: scored batch file name -> its rows as read (raw columns).
        outcomes: the newest outcome per id (`ml.outcomes.merge_outcomes(...).kept`).
        window_days: how far back from the newest outcome outcomes count; None for all.

    Returns:
        `RetrainingSet`. Raises ValueError when the spec has no id column but outcomes exist,
        or the source already has a `_provenance` column.
    """
    if PROVENANCE in source.columns:
        raise ValueError(
            f"source column '{PROVENANCE}' has the name the pipeline gives each row's "
            "provenance; rename it in the source or add it to drop_columns"
        )
    if not len(outcomes) or not batches:
        return RetrainingSet(source.assign(**{PROVENANCE: "source"}), len(source), 0, 0, 0, {})
    if not spec.id_column:
        raise ValueError("outcomes need id_column in the dataset spec to find their rows")
    recent = outcomes
    if window_days is not None:
        start = outcomes[OBSERVED].max() - pd.Timedelta(days=window_days)
        recent = outcomes[outcomes[OBSERVED] >= start]
    labels = recent.set_index(recent[ID].astype(str))[LABEL]
    parts = []
    for name in sorted(batches):
        frame = batches[name]
        keys = frame[spec.id_column].astype("string").str.strip()
        rows = frame.loc[keys.isin(labels.index).to_numpy()].copy()
        rows[spec.id_column] = keys[keys.isin(labels.index)].to_numpy()
        parts.append(rows.assign(**{PROVENANCE: f"batch {name}"}))
    added = pd.concat(parts, ignore_index=True).drop_duplicates(spec.id_column, keep="last")
    churned = added[spec.id_column].map(labels).to_numpy()
    added[spec.target_column] = np.where(churned == 1, spec.positive_label, _negative(source, spec))
    if SPLIT_COLUMN in source.columns:  # a publisher's split: outcome rows by a stable id hash
        added[SPLIT_COLUMN] = [_side(i, spec.split.test_size) for i in added[spec.id_column]]
    added = added.reindex(columns=[*source.columns, PROVENANCE])
    replaced = source[spec.id_column].astype("string").str.strip().isin(added[spec.id_column])
    kept = source.loc[~replaced.to_numpy()].assign(**{PROVENANCE: "source"})
    frame = pd.concat([kept, added], ignore_index=True)
    return RetrainingSet(
        frame=frame,
        source_rows=len(source),
        outcome_rows=len(added),
        replaced_source_rows=int(replaced.sum()),
        outside_window=len(outcomes) - len(recent),
        batches=added[PROVENANCE].value_counts().sort_index().to_dict(),
    )


def _negative(source: pd.DataFrame, spec: DatasetSpec) -> str:
    """The label a non-churner carries in this source: the first declared negative label, else
    the source's one value that is not the positive label."""
    if spec.negative_labels:
        return spec.negative_labels[0]
    positive = norm_label(spec.positive_label)
    values = source[spec.target_column].dropna()
    others = [v for v in values.unique() if norm_label(v) != positive]
    if not others:
        raise ValueError(
            f"target '{spec.target_column}' has no value besides the positive label; declare "
            "negative_labels in the dataset spec"
        )
    return others[0]


def _side(identifier: str, test_size: float) -> str:
    digest = int(hashlib.sha256(str(identifier).encode()).hexdigest()[:8], 16)
    return "test" if digest / 0xFFFFFFFF < test_size else "train"
