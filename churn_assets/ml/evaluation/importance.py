"""Permutation importance of the raw input columns, as a table and a bar chart."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.inspection import permutation_importance

from churn_assets.ml.evaluation.plots import holdout_png
from churn_assets.ml.figures import new_axes


def feature_importance_table(
    pipeline: Any,
    X: pd.DataFrame,
    y: Any,
    random_state: int = 42,
    n_repeats: int = 5,
    scoring: str = "roc_auc",
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Permutation importance of the raw input columns of a fitted pipeline.

    Each raw column of `X` is shuffled `n_repeats` times and the drop in `scoring` recorded, so
    a categorical column counts once however many one-hot columns it becomes.

    Args:
        pipeline: a fitted pipeline taking the raw columns of `X`.
        X: raw feature columns (use the holdout, not the training rows).
        y: 0/1 labels aligned with `X`.
        random_state: seed of the shuffles.
        n_repeats: shuffles per column.
        scoring: scikit-learn scorer name.
        n_jobs: columns shuffled in parallel (joblib processes); the result does not depend on
            it (every column's shuffles use the same seed drawn once from `random_state`).

    Returns:
        DataFrame with `feature`, `importance_mean`, `importance_std`, sorted by importance
        descending (ties by feature name).
    """
    result = permutation_importance(
        pipeline,
        X,
        y,
        scoring=scoring,
        n_repeats=n_repeats,
        random_state=random_state,
        n_jobs=n_jobs,
    )
    table = pd.DataFrame(
        {
            "feature": [str(c) for c in X.columns],
            "importance_mean": result.importances_mean.astype(float),
            "importance_std": result.importances_std.astype(float),
        }
    )
    return table.sort_values(
        ["importance_mean", "feature"], ascending=[False, True], ignore_index=True
    )


def plot_feature_importance(
    pipeline: Any,
    X: pd.DataFrame,
    y: Any,
    random_state: int = 42,
    top_n: int = 15,
    table: pd.DataFrame | None = None,
) -> bytes:
    """Bar chart of the `top_n` permutation importances of the raw input columns.

    Args:
        pipeline: a fitted pipeline taking the raw columns of `X`.
        X: raw feature columns.
        y: 0/1 labels aligned with `X`.
        random_state: seed of the shuffles.
        top_n: how many features to show.
        table: a result of `feature_importance_table` to reuse instead of recomputing.

    Returns:
        PNG bytes.
    """
    if table is None:
        table = feature_importance_table(pipeline, X, y, random_state=random_state)
    top = table.head(top_n).iloc[::-1]
    fig, ax = new_axes(
        f"Permutation importance (top {len(top)})", size=(7.0, 0.35 * len(top) + 1.5)
    )
    ax.barh(top["feature"], top["importance_mean"], xerr=top["importance_std"], color="tab:blue")
    ax.set_xlabel("drop in ROC AUC when shuffled")
    return holdout_png(fig)
