"""The tables of a successive-halving search: one row per candidate and rung, one row per rung."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from churn_assets.ml.jsonable import plain
from churn_assets.ml.models.budget import REFIT_METRIC


def _params_frame(cv_results: dict[str, Any]) -> pd.DataFrame:
    params = pd.DataFrame([{k: plain(v) for k, v in p.items()} for p in cv_results["params"]])
    for column in params.columns:
        kinds = {type(v) for v in params[column] if v is not None}
        # Mixed types (e.g. "sqrt" and 0.5) cannot be written to Parquet; keep them as text.
        if len(kinds) > 1 and not kinds <= {int, float}:
            params[column] = params[column].map(lambda v: None if v is None else str(v))
    return params


def trials_table(cv_results: dict[str, Any], n_splits: int) -> pd.DataFrame:
    """One row per candidate and rung of `HalvingRandomSearchCV.cv_results_`, Parquet-safe.

    Columns: `trial`, `rung`, `n_resources` (rows the rung used), `rank` (1 = best within its
    rung, ties share a rank), the parameters, `mean_roc_auc`, `std_roc_auc`,
    `mean_fit_seconds` (per fold) and `fit_seconds` (all folds of the candidate).
    """
    rung = np.asarray(cv_results["iter"], dtype=int)
    score = np.asarray(cv_results["mean_test_score"], dtype=float)
    rank = np.zeros(len(rung), dtype=int)
    for r in np.unique(rung):
        mask = rung == r
        rank[mask] = rankdata(-np.nan_to_num(score[mask], nan=-np.inf), method="min")
    table = pd.DataFrame(
        {
            "trial": np.arange(len(rung)),
            "rung": rung,
            "n_resources": np.asarray(cv_results["n_resources"], dtype=int),
            "rank": rank,
        }
    )
    table = pd.concat([table, _params_frame(cv_results)], axis=1)
    table[f"mean_{REFIT_METRIC}"] = score
    table[f"std_{REFIT_METRIC}"] = np.asarray(cv_results["std_test_score"], dtype=float)
    fit = np.asarray(cv_results["mean_fit_time"], dtype=float)
    table["mean_fit_seconds"] = fit
    table["fit_seconds"] = fit * n_splits
    return table


def rungs_table(trials: pd.DataFrame) -> pd.DataFrame:
    """What each rung cost: `rung`, `n_resources` (rows), `candidates`, `fit_seconds` (summed
    over candidates and folds), and the rung's best `mean_roc_auc`."""
    grouped = trials.groupby("rung", sort=True)
    return pd.DataFrame(
        {
            "rung": grouped["rung"].first().to_numpy(),
            "n_resources": grouped["n_resources"].first().to_numpy(),
            "candidates": grouped.size().to_numpy(),
            "fit_seconds": grouped["fit_seconds"].sum().round(3).to_numpy(),
            f"best_{REFIT_METRIC}": grouped[f"mean_{REFIT_METRIC}"].max().to_numpy(),
        }
    )
