"""The table of a search's trials: parameters and cross-validated scores, one row per trial."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churn_assets.ml.jsonable import plain
from churn_assets.ml.models.budget import NEGATED_METRICS, REFIT_METRIC, SCORING


def trials_table(cv_results: dict[str, Any]) -> pd.DataFrame:
    """One row per trial of `RandomizedSearchCV.cv_results_`, errors positive, Parquet-safe."""
    params = pd.DataFrame([{k: plain(v) for k, v in p.items()} for p in cv_results["params"]])
    for column in params.columns:
        kinds = {type(v) for v in params[column] if v is not None}
        # Mixed types (e.g. "sqrt" and 0.5) cannot be written to Parquet; keep them as text.
        if len(kinds) > 1 and not kinds <= {int, float}:
            params[column] = params[column].map(lambda v: None if v is None else str(v))
    table = pd.DataFrame(
        {
            "trial": np.arange(len(params)),
            "rank": np.asarray(cv_results[f"rank_test_{REFIT_METRIC}"], dtype=int),
        }
    )
    table = pd.concat([table, params], axis=1)
    for metric in SCORING:
        sign = -1.0 if metric in NEGATED_METRICS else 1.0
        table[f"mean_{metric}"] = sign * np.asarray(cv_results[f"mean_test_{metric}"], float)
        table[f"std_{metric}"] = np.asarray(cv_results[f"std_test_{metric}"], dtype=float)
    table["mean_fit_seconds"] = np.asarray(cv_results["mean_fit_time"], dtype=float)
    return table
