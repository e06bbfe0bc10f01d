"""Holdout metrics of one model, and the label/probability checks every evaluation step shares.

Probabilities are of the positive class (1 = churns); a row is predicted a churner when its
probability is >= the threshold.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)


def binary_inputs(y_true: Any, proba: Any, what: str = "y_true") -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and scores and return them as int and float arrays."""
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=float)
    if y.ndim != 1 or p.ndim != 1:
        raise ValueError(
            f"{what} and the probabilities must be 1-D; got shapes {y.shape} and {p.shape}"
        )
    if len(y) != len(p):
        raise ValueError(f"{what} has {len(y)} rows but the probabilities have {len(p)}")
    if len(y) == 0:
        raise ValueError(f"{what} is empty; there is nothing to evaluate")
    if np.isnan(p).any():
        raise ValueError(f"the probabilities contain {int(np.isnan(p).sum())} NaN values")
    labels = set(pd.unique(y).tolist())
    if not labels <= {0, 1}:
        raise ValueError(f"{what} must be 0/1 (or bool); found labels {sorted(map(repr, labels))}")
    if len(labels) < 2:
        raise ValueError(
            f"{what} has only one class ({len(y)} rows, all {sorted(labels)}); "
            "ranking metrics need both churners (1) and non-churners (0)"
        )
    return y.astype(int), p


def lift_top_decile(y_true: Any, proba: Any) -> float:
    """Return the churn rate among the 10% highest scores divided by the overall churn rate.

    The top decile is the `ceil(n / 10)` rows with the highest probability; ties are broken by
    row order (a stable sort), so the value is deterministic.

    Raises:
        ValueError: on mismatched lengths, non-0/1 labels or a single class.
    """
    y, p = binary_inputs(y_true, proba)
    n_top = max(1, math.ceil(len(y) / 10))
    top = np.argsort(-p, kind="stable")[:n_top]
    return float(y[top].mean() / y.mean())


def holdout_metrics(y_true: Any, proba: Any, threshold: float = 0.5) -> dict[str, float]:
    """Compute the holdout metrics of one model.

    Args:
        y_true: 0/1 labels.
        proba: churn probabilities aligned with `y_true`.
        threshold: a row is predicted a churner when its probability is >= this value.

    Returns:
        `roc_auc`, `pr_auc` (average precision), `f1`, `precision`, `recall`, `accuracy`,
        `brier`, `log_loss`, `lift_top_decile` and `threshold`, all plain floats.

    Raises:
        ValueError: on mismatched lengths, NaN probabilities, non-0/1 labels or a single class.
    """
    y, p = binary_inputs(y_true, proba)
    y_pred = (p >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "f1": float(f1_score(y, y_pred, zero_division=0)),
        "precision": float(precision_score(y, y_pred, zero_division=0)),
        "recall": float(recall_score(y, y_pred, zero_division=0)),
        "accuracy": float(accuracy_score(y, y_pred)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "lift_top_decile": lift_top_decile(y, p),
        "threshold": float(threshold),
    }
