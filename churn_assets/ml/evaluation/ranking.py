"""The choice among candidates: a table of their holdout metrics and the best one."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd


def _ranking_key(name: str, metrics: Mapping[str, float]) -> tuple[float, float, str]:
    def value(metric: str) -> float:
        v = metrics.get(metric)
        return -math.inf if v is None or math.isnan(v) else float(v)

    if "roc_auc" not in metrics:
        raise ValueError(f"candidate {name!r} has no 'roc_auc' metric; got {sorted(metrics)}")
    return (-value("roc_auc"), -value("pr_auc"), name)


def compare_candidates(results: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Tabulate the holdout metrics of all candidates, best first.

    Args:
        results: `{candidate name: holdout metrics}` as returned by `holdout_metrics`.

    Returns:
        DataFrame with a `candidate` column and one column per metric, sorted by `roc_auc`
        descending, then `pr_auc` descending, then name (the order of `select_best`).

    Raises:
        ValueError: if `results` is empty or a candidate has no `roc_auc`.
    """
    if not results:
        raise ValueError("no candidates to compare")
    order = sorted(results, key=lambda name: _ranking_key(name, results[name]))
    rows = [{"candidate": name, **results[name]} for name in order]
    return pd.DataFrame(rows)


def select_best(results: Mapping[str, Mapping[str, float]]) -> str:
    """Return the name of the candidate with the highest holdout ROC AUC.

    Ties are broken by the higher `pr_auc` and then by name (alphabetical), so the choice never
    depends on dict order. A missing or NaN metric ranks last.

    Raises:
        ValueError: if `results` is empty or a candidate has no `roc_auc`.
    """
    if not results:
        raise ValueError("no candidates to select from")
    return min(results, key=lambda name: _ranking_key(name, results[name]))
