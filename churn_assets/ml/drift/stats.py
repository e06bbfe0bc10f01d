"""Two-sample drift statistics on pre-sorted numeric arrays and on category counts.

Plain numpy / scipy, no pandas state and no Dagster: `churn_assets.ml.drift` calls these with the
reference side prepared once (sorted values, quantile edges, value counts), so a monitoring batch
only pays for sorting its own column.

Numeric (`numeric_stats`): two-sample Kolmogorov-Smirnov statistic and p-value, Wasserstein distance
(raw and divided by the reference standard deviation, as Evidently normalises it) and the population
stability index on quantile bins of the reference. Categorical (`categorical_stats`): chi-squared
test of the 2 x k contingency table of reference counts against current counts, Jensen-Shannon
distance (natural log, as `scipy.spatial.distance.jensenshannon` and Evidently compute it) and PSI.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

# scipy's ks_2samp(method="auto") is exact up to this size; Evidently relies on that default.
KS_EXACT_MAX_N = 10_000
# Evidently's floor for the reference standard deviation when normalising Wasserstein.
MIN_STD = 0.001


def sorted_finite(values: np.ndarray | pd.Series) -> np.ndarray:
    """Return the finite values as a sorted float64 array (NaN and +-inf removed).

    Takes any numeric array-like; raises `ValueError` (from numpy) if it cannot be cast to float.
    """
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    arr.sort()  # the default (SIMD quicksort) is several times faster than a stable sort here
    return arr


def sorted_quantile(sorted_values: np.ndarray, q: float) -> float:
    """`np.quantile(sorted_values, q)` (linear method) of a sorted, non-empty array, read from
    the two neighbouring values instead of partitioning the whole array again."""
    n = sorted_values.size
    virtual = (n - 1) * q  # numpy's virtual index for the linear method
    lo = min(int(np.floor(virtual)), n - 1)
    hi = min(lo + 1, n - 1)
    pair = np.array([sorted_values[lo], sorted_values[hi]], dtype=np.float64)
    return float(np.quantile(pair, virtual - lo))  # numpy's own interpolation, same rounding


def quantile_edges(sorted_values: np.ndarray, n_bins: int) -> np.ndarray:
    """Return the distinct inner quantile edges that cut `sorted_values` into `n_bins` bins.

    Bins are (-inf, e0], (e0, e1], ..., (e_last, inf); ties collapse edges, so heavily repeated
    values give fewer bins. Returns an empty array for an empty input. Raises `ValueError` when
    `n_bins < 2`.
    """
    if n_bins < 2:
        raise ValueError(f"psi_bins must be at least 2, got {n_bins}")
    if sorted_values.size == 0:
        return np.empty(0, dtype=np.float64)
    inner = np.quantile(sorted_values, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    return np.unique(inner)


def bin_proportions(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of `sorted_values` in each bin defined by `edges` (see `quantile_edges`).

    Counting by binary search on the sorted array costs O(bins log n) instead of O(n).
    """
    cumulative = np.searchsorted(sorted_values, edges, side="right")
    counts = np.diff(np.concatenate(([0], cumulative, [sorted_values.size])))
    return counts / max(sorted_values.size, 1)


def psi(reference_props: np.ndarray, current_props: np.ndarray, epsilon: float = 1e-4) -> float:
    """Population stability index sum((c - r) * ln(c / r)) over matching bins.

    Empty bins are raised to `epsilon` (Evidently does the same) so the logarithm stays finite.
    """
    r = np.maximum(np.asarray(reference_props, dtype=np.float64), epsilon)
    c = np.maximum(np.asarray(current_props, dtype=np.float64), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def ks_wasserstein_sorted(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and Wasserstein-1 distance of two sorted, non-empty arrays.

    One stable argsort merges the two arrays (two sorted runs, so timsort merges them in linear
    time); the empirical CDFs at every merged point are integer running counts divided by the sample
    sizes, the same numbers `np.searchsorted(side="right")` gives in `scipy.stats.ks_2samp`, so the
    statistic is bit-identical. Wasserstein is the integral of |F - G|, as in
    `scipy.stats.wasserstein_distance`. Raises `ValueError` when either array is empty.
    """
    n, m = ref.size, cur.size
    if n == 0 or m == 0:
        raise ValueError("KS and Wasserstein need at least one value on each side")
    merged = np.concatenate((ref, cur))
    order = np.argsort(merged, kind="stable")
    values = merged[order]
    count_ref = np.cumsum(order < n)
    count_cur = np.arange(1, n + m + 1) - count_ref
    gap = np.abs(count_ref / n - count_cur / m)
    # With ties only the last position of each run of equal values is a right-continuous CDF value.
    last = np.empty(values.size, dtype=bool)
    last[:-1] = values[1:] != values[:-1]
    last[-1] = True
    ks = float(gap[last].max())
    wasserstein = float(np.sum(gap[:-1] * np.diff(values)))
    return ks, wasserstein


def ks_pvalue(
    statistic: float, ref: np.ndarray, cur: np.ndarray, method: str = "auto"
) -> tuple[float, str]:
    """Two-sided KS p-value and the method used ("exact" or "asymp").

    "asymp" is `scipy.stats.kstwo.sf(D, round(n*m/(n+m)))`, exactly what `ks_2samp(method="asymp")`
    computes, and costs O(1). "exact" calls `ks_2samp(method="exact")` on the (small) samples;
    "auto" is exact when both samples have at most 10,000 values, as `ks_2samp` and Evidently do.
    Raises `ValueError` for an unknown method.
    """
    if method not in ("auto", "exact", "asymp"):
        raise ValueError(f"ks_method must be 'auto', 'exact' or 'asymp', got {method!r}")
    if method == "exact" or (method == "auto" and max(ref.size, cur.size) <= KS_EXACT_MAX_N):
        return float(stats.ks_2samp(ref, cur, method="exact").pvalue), "exact"
    big, small = sorted([float(ref.size), float(cur.size)], reverse=True)
    en = np.round(big * small / (big + small))
    return float(np.clip(stats.kstwo.sf(statistic, en), 0.0, 1.0)), "asymp"


def numeric_stats(
    ref: np.ndarray,
    cur: np.ndarray,
    ref_std: float,
    psi_edges: np.ndarray,
    ks_method: str = "auto",
    psi_epsilon: float = 1e-4,
) -> dict[str, float | str]:
    """All numeric drift statistics of sorted, finite, non-empty `ref` and `cur` arrays.

    Returns a dict with ks_statistic, ks_p_value, ks_method, wasserstein, wasserstein_normed
    (Wasserstein / max(reference std, 0.001)) and psi. Raises `ValueError` on empty input.
    """
    ks, wasserstein = ks_wasserstein_sorted(ref, cur)
    p_value, used = ks_pvalue(ks, ref, cur, ks_method)
    return {
        "ks_statistic": ks,
        "ks_p_value": p_value,
        "ks_method": used,
        "wasserstein": wasserstein,
        "wasserstein_normed": wasserstein / max(float(ref_std), MIN_STD),
        "psi": psi(bin_proportions(ref, psi_edges), bin_proportions(cur, psi_edges), psi_epsilon),
    }


def categorical_stats(
    ref_counts: Mapping[str, int], cur_counts: Mapping[str, int], psi_epsilon: float = 1e-4
) -> dict[str, float]:
    """Chi-squared contingency test, Jensen-Shannon distance and PSI of two sets of category counts.

    Categories seen on one side only are their own cell (count 0 on the other side). The chi-squared
    test is on the 2 x k table of counts (`scipy.stats.chi2_contingency`) without Yates' correction:
    for k = 2 it then equals the pooled two-proportion z-test Evidently uses for binary columns, and
    the corrected version is conservative. Returns chi2_statistic, chi2_p_value, chi2_dof,
    jensenshannon and psi. Raises `ValueError` when either side has no counts.
    """
    keys = sorted(set(ref_counts) | set(cur_counts))
    table = np.array(
        [[ref_counts.get(k, 0) for k in keys], [cur_counts.get(k, 0) for k in keys]],
        dtype=np.float64,
    )
    table = table[:, table.sum(axis=0) > 0]
    totals = table.sum(axis=1)
    if (totals == 0).any():
        raise ValueError("categorical drift needs at least one value on each side")
    if table.shape[1] < 2:
        # One category on both sides: identical distributions, nothing to test.
        chi2, p_value, dof = 0.0, 1.0, 0
    else:
        result = stats.chi2_contingency(table, correction=False)
        chi2, p_value, dof = float(result.statistic), float(result.pvalue), int(result.dof)
    props = table / totals[:, None]
    return {
        "chi2_statistic": chi2,
        "chi2_p_value": p_value,
        "chi2_dof": dof,
        "jensenshannon": float(distance.jensenshannon(props[0], props[1])),
        "psi": psi(props[0], props[1], psi_epsilon),
    }


def category_key(value: object) -> str:
    """String key of a category so counts survive JSON / Parquet: 1, 1.0 and "1" all become "1"."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def value_counts(values: pd.Series) -> dict[str, int]:
    """Counts of the non-missing values of a Series keyed by `category_key`."""
    counts: dict[str, int] = {}
    for value, count in values.value_counts(dropna=True, sort=False).items():
        if count > 0:
            key = category_key(value)
            counts[key] = counts.get(key, 0) + int(count)
    return counts


def sorted_value_counts(sorted_values: np.ndarray) -> dict[str, int]:
    """Counts of the distinct values of a sorted numeric array keyed by `category_key`."""
    if sorted_values.size == 0:
        return {}
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    counts = np.diff(np.concatenate((starts, [sorted_values.size])))
    return {
        category_key(float(sorted_values[s])): int(c) for s, c in zip(starts, counts, strict=True)
    }


def n_distinct_sorted(sorted_values: np.ndarray, limit: int) -> int:
    """Number of distinct values of a sorted array, capped at `limit + 1` ("more than limit")."""
    if sorted_values.size == 0:
        return 0
    return min(int(np.count_nonzero(sorted_values[1:] != sorted_values[:-1])) + 1, limit + 1)
