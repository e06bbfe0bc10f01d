"""The one label validator: map a target column to 0/1 and say which rows have a bad label.

Labels compare case- and space-insensitively (`Yes`, ` yes`, `YES` are one label) and `1.0` equals
`1`. Training data must hold the positive label and exactly one other value unless negative labels
are declared; scoring batches may be unlabeled or hold one class only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_assets.ml.spec import DatasetSpec
from churn_assets.ml.validation_base import TARGET, Problem, SchemaError, constant, quoted
from churn_assets.ml.validation_types import on_uniques


def norm_label(value: object) -> str:
    """A label as compared: text, stripped, lower case; integral floats without '.0'."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lower()


def label_sets(labels: pd.Series, spec: DatasetSpec, training: bool) -> tuple[str, set[str]]:
    """The positive label and the negative labels, both normalised.

    For training data (`training=True`) raises SchemaError naming the column when the positive
    label never appears, or when the target is not binary and no negative labels are declared.
    """
    col = spec.target_column
    positive = norm_label(spec.positive_label)
    declared = spec.negative_labels
    if not training:  # a batch may hold only churners or none
        negatives = {norm_label(v) for v in declared} if declared else set(labels.dropna())
        return positive, negatives - {positive}
    seen = labels.value_counts()
    if positive not in seen.index:
        raise SchemaError(
            f"target column '{col}' never has the positive label '{spec.positive_label}' "
            f"(values: {dict(seen.head(10))}); set positive_label in the dataset spec"
        )
    if declared is not None:
        return positive, {norm_label(v) for v in declared}
    others = [v for v in seen.index if v != positive]
    if len(others) != 1:
        raise SchemaError(
            f"target column '{col}' must be binary, but has {len(seen)} values "
            f"{dict(seen.head(10))}; declare negative_labels in the dataset spec to quarantine "
            "the rest, or clean the source"
        )
    return positive, set(others)


def target_rules(
    raw: pd.DataFrame, spec: DatasetSpec, training: bool
) -> tuple[pd.Series, list[Problem]]:
    """The 0/1 target (Int8 with missing for unlabeled batch rows) and the label problems."""
    target_raw = raw[spec.target_column].reset_index(drop=True)
    labels = on_uniques(target_raw, lambda u: u.map(norm_label))
    labels = labels.where(labels != "", None)
    positive, negatives = label_sets(labels, spec, training)
    unknown = (~labels.isin([positive, *negatives]) & labels.notna()).to_numpy()
    message = quoted(f"target '{spec.target_column}' value '", labels, "' is not a known label")
    problems = [Problem("invalid_target", unknown, message)]
    if training:  # rows without a label are quarantined, so 0/1 is complete
        problems.insert(
            0, Problem("missing_target", labels.isna().to_numpy(), constant("target is missing"))
        )
        return (labels == positive).astype(np.int8).rename(TARGET), problems
    target = (labels == positive).astype("Int8").where(labels.notna(), pd.NA)
    return target.rename(TARGET), problems
