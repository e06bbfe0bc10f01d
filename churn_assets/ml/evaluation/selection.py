"""The choice among candidates on out-of-fold evidence, not on one small holdout alone.

Each family's cross-validated ROC AUC is measured over every training row (each row scored by a
model that never saw it), so it rests on four to five times more rows than the holdout. The
holdout stays what the promotion gate judges; here it only breaks ties. Neither number ever
comes from rows the scored model was fitted on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

EVIDENCE = "cv_roc_auc_mean"  # the out-of-fold ROC AUC of a family's tuned parameters


def _value(metrics: Mapping[str, float], key: str) -> float:
    v = metrics.get(key)
    return -math.inf if v is None or math.isnan(float(v)) else float(v)


def _key(name: str, cv: Mapping[str, float], holdout: Mapping[str, float]) -> tuple:
    if EVIDENCE not in cv:
        raise ValueError(
            f"candidate {name!r} has no out-of-fold evidence {EVIDENCE!r}; got {sorted(cv)}; "
            "retrain it so its record carries the cross-validated metrics"
        )
    return (-_value(cv, EVIDENCE), -_value(holdout, "roc_auc"), name)


def select_by_oof(
    cv_metrics: Mapping[str, Mapping[str, float]],
    holdout: Mapping[str, Mapping[str, float]],
) -> str:
    """Return the candidate with the highest out-of-fold ROC AUC.

    Args:
        cv_metrics: `{candidate: {"cv_roc_auc_mean": ..., ...}}` (a TrainResult's `cv_metrics`).
        holdout: `{candidate: holdout metrics}`; its `roc_auc` breaks ties, then the name.

    Returns:
        The chosen candidate's name.

    Raises:
        ValueError: no candidates, the two mappings name different candidates, or a candidate
            lacks `cv_roc_auc_mean`.
    """
    if not cv_metrics:
        raise ValueError("no candidates to select from")
    if set(cv_metrics) != set(holdout):
        raise ValueError(
            f"out-of-fold and holdout evidence name different candidates: "
            f"{sorted(cv_metrics)} vs {sorted(holdout)}"
        )
    return min(cv_metrics, key=lambda n: _key(n, cv_metrics[n], holdout[n]))


def selection_table(
    cv_metrics: Mapping[str, Mapping[str, float]],
    holdout: Mapping[str, Mapping[str, float]],
) -> pd.DataFrame:
    """Candidates in the order `select_by_oof` ranks them: out-of-fold ROC AUC (mean and spread
    over the folds) beside the holdout ROC AUC and PR AUC, and which one was chosen."""
    best = select_by_oof(cv_metrics, holdout)
    order = sorted(cv_metrics, key=lambda n: _key(n, cv_metrics[n], holdout[n]))
    return pd.DataFrame(
        [
            {
                "candidate": n,
                "oof_roc_auc": cv_metrics[n][EVIDENCE],
                "oof_roc_auc_std": cv_metrics[n].get("cv_roc_auc_std", float("nan")),
                "holdout_roc_auc": holdout[n].get("roc_auc", float("nan")),
                "holdout_pr_auc": holdout[n].get("pr_auc", float("nan")),
                "chosen": n == best,
            }
            for n in order
        ]
    )
