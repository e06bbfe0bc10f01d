"""One column's drift row: which test decides it, and every statistic of its family."""

from __future__ import annotations

from typing import Any

import numpy as np

from churn_assets.ml.drift import stats as ds
from churn_assets.ml.drift.config import STATISTIC_OF, DriftConfig
from churn_assets.ml.drift.reference import ColumnReference
from churn_assets.ml.drift.report import ColumnDrift


def select_test(method: str, space: str, n_reference: int, config: DriftConfig, column: str) -> str:
    """Evidently's rule: p-value tests up to small_sample_rows reference values, else distances."""
    if method == "auto":
        small = n_reference <= config.small_sample_rows
        if space == "numeric":
            return "ks" if small else "wasserstein"
        return "chi2" if small else "jensenshannon"
    if space == "categorical" and method in ("ks", "wasserstein"):
        raise ValueError(
            f"method {method!r} for column {column!r} needs numeric values; the column is "
            "categorical, use 'chi2', 'jensenshannon' or 'psi'"
        )
    return method


def numeric_row(ref: ColumnReference, cur: np.ndarray, config: DriftConfig) -> ColumnDrift:
    """Test a numeric column (as categories when it has few values); untested if too few rows."""
    assert ref.values is not None and ref.psi_edges is not None
    n_ref, n_cur = ref.values.size, cur.size
    if min(n_ref, n_cur) < config.min_rows:
        return untested_row(ref.column, ref.kind, n_ref, n_cur, too_few(n_ref, n_cur, config))
    method = config.column_methods.get(ref.column, config.method)
    all_stats: dict[str, Any] = ds.numeric_stats(
        ref.values, cur, ref.std, ref.psi_edges, config.ks_method, config.psi_epsilon
    )
    # Evidently tests numeric columns with at most five distinct values (both sides) as categories.
    limit = config.low_cardinality
    low_card = False
    ref_counts: dict[str, int] = {}
    cur_counts: dict[str, int] = {}
    if max(ds.n_distinct_sorted(ref.values, limit), ds.n_distinct_sorted(cur, limit)) <= limit:
        ref_counts, cur_counts = ds.sorted_value_counts(ref.values), ds.sorted_value_counts(cur)
        low_card = len(set(ref_counts) | set(cur_counts)) <= limit
    categorical = method in ("chi2", "jensenshannon") or (method == "auto" and low_card)
    if categorical:
        if not low_card:
            ref_counts, cur_counts = ds.sorted_value_counts(ref.values), ds.sorted_value_counts(cur)
        cat_stats = ds.categorical_stats(ref_counts, cur_counts, config.psi_epsilon)
        # Keep the quantile-bin PSI of the numeric family; the category PSI would shadow it.
        all_stats.update({k: v for k, v in cat_stats.items() if k != "psi"})
    space = "categorical" if categorical else "numeric"
    test = select_test(method, space, n_ref, config, ref.column)
    return tested_row(ref.column, ref.kind, space, test, all_stats, n_ref, n_cur, config)


def categorical_row(
    ref: ColumnReference, cur_counts: dict[str, int], config: DriftConfig
) -> ColumnDrift:
    """Test a categorical column from its reference and current counts; untested if too few rows."""
    assert ref.counts is not None
    n_ref, n_cur = ref.n_valid, sum(cur_counts.values())
    if min(n_ref, n_cur) < config.min_rows:
        return untested_row(ref.column, ref.kind, n_ref, n_cur, too_few(n_ref, n_cur, config))
    method = config.column_methods.get(ref.column, config.method)
    test = select_test(method, "categorical", n_ref, config, ref.column)
    all_stats = ds.categorical_stats(ref.counts, cur_counts, config.psi_epsilon)
    return tested_row(ref.column, ref.kind, "categorical", test, all_stats, n_ref, n_cur, config)


def missing_row(
    ref: ColumnReference, n_rows: int, n_missing: int, config: DriftConfig
) -> ColumnDrift:
    """Test the missing / present indicator of a feature column."""
    # The missing / present indicator is a binary categorical column: same rule as the features.
    if min(ref.n_rows, n_rows) < config.min_rows:
        message = too_few(ref.n_rows, n_rows, config)
        return untested_row(ref.column, "missing", ref.n_rows, n_rows, message)
    ref_counts = {"missing": ref.n_missing, "present": ref.n_valid}
    cur_counts = {"missing": n_missing, "present": n_rows - n_missing}
    test = select_test("auto", "categorical", ref.n_rows, config, ref.column)
    all_stats: dict[str, Any] = ds.categorical_stats(ref_counts, cur_counts, config.psi_epsilon)
    all_stats["missing_share_reference"] = ref.n_missing / ref.n_rows
    all_stats["missing_share_current"] = n_missing / n_rows
    return tested_row(
        ref.column, "missing", "categorical", test, all_stats, ref.n_rows, n_rows, config
    )


def tested_row(
    column: str,
    kind: str,
    space: str,
    test: str,
    all_stats: dict[str, Any],
    n_ref: int,
    n_cur: int,
    config: DriftConfig,
) -> ColumnDrift:
    """A tested row carrying every statistic; `drifted` is decided later with all rows."""
    numeric = space == "numeric"
    return ColumnDrift(
        column=column,
        kind=kind,
        test=test,
        statistic=float(all_stats[STATISTIC_OF[test]]),
        p_value=float(all_stats["ks_p_value" if numeric else "chi2_p_value"]),
        p_value_adjusted=None,
        distance=float(all_stats["wasserstein_normed" if numeric else "jensenshannon"]),
        threshold=config.threshold_of(test),
        all_stats=all_stats,
        drifted=False,
        tested=True,
        message="",
        n_reference=n_ref,
        n_current=n_cur,
    )


def untested_row(column: str, kind: str, n_ref: int, n_cur: int, message: str) -> ColumnDrift:
    """A row for a column that could not be tested, with the reason in `message`."""
    return ColumnDrift(
        column, kind, None, None, None, None, None, None, {}, False, False, message, n_ref, n_cur
    )


def too_few(n_ref: int, n_cur: int, config: DriftConfig) -> str:
    """The message of a column with fewer than `min_rows` values on a side."""
    return (
        f"not enough rows to test (n={min(n_ref, n_cur)}); need at least {config.min_rows} "
        f"non-missing values in reference ({n_ref}) and current ({n_cur})"
    )
