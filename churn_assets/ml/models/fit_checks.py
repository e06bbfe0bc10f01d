"""Checks around a search: the training data before it, convergence warnings after it."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline


def check_training_data(X: pd.DataFrame, y: pd.Series, cv_folds: int) -> pd.Series:
    """Validate the training split and return the target as int 0/1."""
    if len(X) != len(y):
        raise ValueError(f"X_train has {len(X)} rows but y_train has {len(y)}; they must align")
    y = pd.Series(y)
    if y.isna().any():
        raise ValueError(
            f"y_train has {int(y.isna().sum())} missing values; drop or label those rows first"
        )
    counts = Counter(y.tolist())
    labels = set(counts)
    if not labels <= {0, 1}:
        raise ValueError(
            f"y_train must be 0/1 (or bool); found labels {sorted(map(repr, labels))}; "
            "encode the target as 1 = churned, 0 = stayed"
        )
    described = ", ".join(f"class {int(k)}: {v} rows" for k, v in sorted(counts.items()))
    if len(counts) < 2:
        raise ValueError(
            f"y_train has only one class ({described}); a classifier needs both churners (1) "
            "and non-churners (0)"
        )
    minority_label, minority_count = min(counts.items(), key=lambda kv: (kv[1], kv[0]))
    if minority_count < cv_folds:
        raise ValueError(
            f"the minority class {int(minority_label)} has {minority_count} rows, fewer than "
            f"cv_folds={cv_folds} ({described}); lower cv_folds or provide more rows"
        )
    return y.astype(int)


def summarise_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Keep convergence warnings (deduplicated, counted); re-emit any other warning once."""
    convergence: Counter[str] = Counter()
    others: dict[tuple[type, str], warnings.WarningMessage] = {}
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            convergence[" ".join(str(w.message).split())] += 1
        else:
            others.setdefault((w.category, str(w.message)), w)
    for w in others.values():
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return [
        f"ConvergenceWarning ({n} fit{'s' if n > 1 else ''}): {message}"
        for message, n in convergence.items()
    ]


def unconverged_final_model(pipeline: Pipeline) -> str | None:
    """Check the refitted model directly: warnings raised in worker processes are not seen."""
    model = pipeline.named_steps["model"]
    n_iter = getattr(model, "n_iter_", None)
    if isinstance(model, LogisticRegression) and n_iter is not None:
        if int(np.max(n_iter)) >= model.max_iter:
            return (
                f"the refitted LogisticRegression stopped at max_iter={model.max_iter} without "
                "converging; scale the features or raise max_iter"
            )
    return None
