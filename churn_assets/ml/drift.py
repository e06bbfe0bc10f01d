"""Data drift of a monitoring batch against the training reference, column by column.

`build_reference` prepares the training side once (sorted numeric values, category counts, quantile
edges for PSI, standard deviations, missing counts); `DriftReference.to_frame` / `from_frame` store
it as a long-format table (Parquet-friendly) so it can be an asset. `compute_drift` compares a batch
with it and returns a `DriftReport`.

Tests follow Evidently's defaults, which users already know. The deciding test is chosen by column
type and reference size: with at most `small_sample_rows` (1000) non-missing reference values,
numeric columns use the two-sample Kolmogorov-Smirnov test and categorical columns the chi-squared
test (p < alpha is drift); with more, numeric columns use the Wasserstein distance divided by the
reference standard deviation and categorical columns the Jensen-Shannon distance (distance >= 0.1 is
drift), because with large samples every p-value test flags differences too small to matter. Numeric
columns with at most five distinct values are tested as categorical. Every statistic of the column's
family is still computed and reported in `all_stats` (KS, Wasserstein, PSI; or chi-squared, JS,
PSI). Besides the features, the report covers missing-value drift (the missing / present indicator
of each feature, same selection rule, so chi-squared = the two-proportion z-test on small samples),
prediction drift (the score column, numeric rule) and target drift (categorical rule) when labels
are present.

Multiple testing: each column is tested at `alpha`, as Evidently does, so with many undrifted
columns about alpha of them are flagged by chance. The dataset decision therefore does not rest on
any single p-value: the dataset drifts when the share of drifted feature columns (numeric and
categorical, not missing / prediction / target rows) reaches `drift_share` (0.5). Every report also
carries a Benjamini-Hochberg adjusted p-value per tested row (`scipy.stats.false_discovery_control`,
one family = all tested rows of the report except those with a single category on both sides, such
as missing-value rows of columns without missing values, which cannot reject), and
`multiple_testing="bh"` makes p-value tests decide on the adjusted values, which keeps the expected
share of false discoveries among flagged columns at most alpha (for independent or positively
dependent columns). Distance tests are thresholds, not tests, and are never adjusted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from churn_assets.ml import drift_stats as ds
from churn_assets.ml.drift_reference import (
    ColumnReference,
    DriftReference,
    build_reference,
    numeric_values,
)

__all__ = [
    "ColumnDrift",
    "ColumnReference",
    "DriftConfig",
    "DriftReference",
    "DriftReport",
    "build_reference",
    "compute_drift",
]

Method = Literal["auto", "ks", "wasserstein", "psi", "chi2", "jensenshannon"]
METHODS = ("auto", "ks", "wasserstein", "psi", "chi2", "jensenshannon")
P_VALUE_TESTS = ("ks", "chi2")
FEATURE_KINDS = ("numeric", "categorical")
# Which entry of all_stats is the statistic of each test.
STATISTIC_OF = {
    "ks": "ks_statistic",
    "wasserstein": "wasserstein_normed",
    "psi": "psi",
    "chi2": "chi2_statistic",
    "jensenshannon": "jensenshannon",
}


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds and test choices of `compute_drift`; the defaults are Evidently's.

    `method` applies to every column, `column_methods` overrides it per column name ("auto", "ks",
    "wasserstein", "psi", "chi2", "jensenshannon"). Raises `ValueError` for out-of-range values.
    """

    alpha: float = 0.05
    wasserstein_threshold: float = 0.1
    jensenshannon_threshold: float = 0.1
    psi_threshold: float = 0.2
    drift_share: float = 0.5
    min_rows: int = 30
    small_sample_rows: int = 1000
    method: Method = "auto"
    column_methods: dict[str, Method] = field(default_factory=dict)
    multiple_testing: Literal["none", "bh"] = "none"
    ks_method: Literal["auto", "exact", "asymp"] = "auto"
    low_cardinality: int = 5
    psi_epsilon: float = 1e-4

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0.0 < self.drift_share <= 1.0:
            raise ValueError(f"drift_share must be in (0, 1], got {self.drift_share}")
        for name in ("wasserstein_threshold", "jensenshannon_threshold", "psi_threshold"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.min_rows < 1:
            raise ValueError(f"min_rows must be >= 1, got {self.min_rows}")
        bad = {
            c: m for c, m in {"*": self.method, **self.column_methods}.items() if m not in METHODS
        }
        if bad:
            raise ValueError(f"unknown drift methods {bad}; choose from {list(METHODS)}")
        if self.multiple_testing not in ("none", "bh"):
            raise ValueError(
                f"multiple_testing must be 'none' or 'bh', not {self.multiple_testing!r}"
            )
        if self.ks_method not in ("auto", "exact", "asymp"):
            raise ValueError(
                f"ks_method must be 'auto', 'exact' or 'asymp', not {self.ks_method!r}"
            )

    def threshold_of(self, test: str) -> float:
        """The value a test's statistic is compared with: alpha for p-value tests."""
        return {
            "wasserstein": self.wasserstein_threshold,
            "jensenshannon": self.jensenshannon_threshold,
            "psi": self.psi_threshold,
        }.get(test, self.alpha)


@dataclass
class ColumnDrift:
    """The drift result of one column and kind (numeric, categorical, prediction, missing, target).

    `test` is the deciding method, `statistic` its value, `p_value` the p-value of the column's
    p-value test (KS or chi-squared; reported even when a distance decides), `distance` the
    normalised Wasserstein or Jensen-Shannon distance, `threshold` what the decision compared with.
    Untested columns have `tested=False`, `drifted=False` and a `message` saying why.
    """

    column: str
    kind: str
    test: str | None
    statistic: float | None
    p_value: float | None
    p_value_adjusted: float | None
    distance: float | None
    threshold: float | None
    all_stats: dict[str, Any]
    drifted: bool
    tested: bool
    message: str
    n_reference: int
    n_current: int


@dataclass
class DriftReport:
    """All column results plus the dataset decision (share of drifted feature columns)."""

    columns: list[ColumnDrift]
    drift_share: float
    n_drifted: int
    n_tested: int
    dataset_drift: bool
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict: plain Python numbers, NaN and infinities as None."""
        return _jsonable(asdict(self))

    def to_frame(self) -> pd.DataFrame:
        """One row per result: feature, kind, test, statistic, p-values, distance, drifted, ..."""
        return pd.DataFrame(
            [
                {
                    "feature": c.column,
                    "kind": c.kind,
                    "test": c.test,
                    "statistic": c.statistic,
                    "p_value": c.p_value,
                    "p_value_adjusted": c.p_value_adjusted,
                    "distance": c.distance,
                    "threshold": c.threshold,
                    "drifted": c.drifted,
                    "tested": c.tested,
                    "n_reference": c.n_reference,
                    "n_current": c.n_current,
                    "message": c.message,
                }
                for c in self.columns
            ]
        )


def compute_drift(
    reference: DriftReference, current: pd.DataFrame, config: DriftConfig = DriftConfig()
) -> DriftReport:
    """Compare a batch with the training reference, column by column.

    Takes the reference from `build_reference`, the current batch (it must hold every feature
    column; score and target columns are optional and reported as untested when absent) and the
    configuration. Returns a `DriftReport`. Raises `ValueError` when a feature column is absent, a
    numeric column is not numeric, or a method does not fit a column's type.
    """
    absent = [c for c in reference.numeric + reference.categorical if c not in current.columns]
    if absent:
        raise ValueError(
            f"the current data lacks feature columns {absent} that the drift reference has; "
            "score the batch with the same feature columns or rebuild the reference"
        )
    rows: list[ColumnDrift] = []
    for name, ref in reference.columns.items():
        if name not in current.columns:
            rows.append(
                _untested(name, ref.kind, ref.n_valid, 0, "column absent from current data")
            )
            continue
        series = current[name]
        if ref.values is not None:
            cur = numeric_values(series, name, "current")
            n_missing = len(series) - cur.size  # infinities count as missing, as in the reference
            rows.append(_numeric_row(ref, cur, config))
        else:
            n_missing = int(series.isna().sum())
            rows.append(_categorical_row(ref, ds.value_counts(series), config))
        if ref.kind in FEATURE_KINDS:
            rows.append(_missing_row(ref, len(series), n_missing, config))
    _adjust_and_decide(rows, config)
    features = [r for r in rows if r.kind in FEATURE_KINDS and r.tested]
    n_drifted = sum(r.drifted for r in features)
    share = n_drifted / len(features) if features else 0.0
    return DriftReport(
        columns=rows,
        drift_share=share,
        n_drifted=n_drifted,
        n_tested=len(features),
        dataset_drift=bool(features) and share >= config.drift_share,
        config=asdict(config),
    )


def _select(method: str, space: str, n_reference: int, config: DriftConfig, column: str) -> str:
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


def _numeric_row(ref: ColumnReference, cur: np.ndarray, config: DriftConfig) -> ColumnDrift:
    assert ref.values is not None and ref.psi_edges is not None
    n_ref, n_cur = ref.values.size, cur.size
    if min(n_ref, n_cur) < config.min_rows:
        return _untested(ref.column, ref.kind, n_ref, n_cur, _too_few(n_ref, n_cur, config))
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
    test = _select(method, space, n_ref, config, ref.column)
    return _tested(ref.column, ref.kind, space, test, all_stats, n_ref, n_cur, config)


def _categorical_row(
    ref: ColumnReference, cur_counts: dict[str, int], config: DriftConfig
) -> ColumnDrift:
    assert ref.counts is not None
    n_ref, n_cur = ref.n_valid, sum(cur_counts.values())
    if min(n_ref, n_cur) < config.min_rows:
        return _untested(ref.column, ref.kind, n_ref, n_cur, _too_few(n_ref, n_cur, config))
    method = config.column_methods.get(ref.column, config.method)
    test = _select(method, "categorical", n_ref, config, ref.column)
    all_stats = ds.categorical_stats(ref.counts, cur_counts, config.psi_epsilon)
    return _tested(ref.column, ref.kind, "categorical", test, all_stats, n_ref, n_cur, config)


def _missing_row(
    ref: ColumnReference, n_rows: int, n_missing: int, config: DriftConfig
) -> ColumnDrift:
    # The missing / present indicator is a binary categorical column: same rule as the features.
    if min(ref.n_rows, n_rows) < config.min_rows:
        message = _too_few(ref.n_rows, n_rows, config)
        return _untested(ref.column, "missing", ref.n_rows, n_rows, message)
    ref_counts = {"missing": ref.n_missing, "present": ref.n_valid}
    cur_counts = {"missing": n_missing, "present": n_rows - n_missing}
    test = _select("auto", "categorical", ref.n_rows, config, ref.column)
    all_stats: dict[str, Any] = ds.categorical_stats(ref_counts, cur_counts, config.psi_epsilon)
    all_stats["missing_share_reference"] = ref.n_missing / ref.n_rows
    all_stats["missing_share_current"] = n_missing / n_rows
    return _tested(
        ref.column, "missing", "categorical", test, all_stats, ref.n_rows, n_rows, config
    )


def _tested(
    column: str,
    kind: str,
    space: str,
    test: str,
    all_stats: dict[str, Any],
    n_ref: int,
    n_cur: int,
    config: DriftConfig,
) -> ColumnDrift:
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


def _untested(column: str, kind: str, n_ref: int, n_cur: int, message: str) -> ColumnDrift:
    return ColumnDrift(
        column, kind, None, None, None, None, None, None, {}, False, False, message, n_ref, n_cur
    )


def _too_few(n_ref: int, n_cur: int, config: DriftConfig) -> str:
    return (
        f"not enough rows to test (n={min(n_ref, n_cur)}); need at least {config.min_rows} "
        f"non-missing values in reference ({n_ref}) and current ({n_cur})"
    )


def _adjust_and_decide(rows: Iterable[ColumnDrift], config: DriftConfig) -> None:
    """Fill the BH-adjusted p-values of all tested rows, then decide drift row by row."""
    tested = [r for r in rows if r.tested and r.p_value is not None]
    # One category on both sides (e.g. no missing values anywhere) cannot reject: keep it out of
    # the family so it does not make the adjustment of the real tests stricter.
    family = [r for r in tested if r.all_stats.get("chi2_dof") != 0]
    for row in tested:
        row.p_value_adjusted = 1.0
    if family:
        adjusted = stats.false_discovery_control([r.p_value for r in family], method="bh")
        for row, p_adj in zip(family, adjusted, strict=True):
            row.p_value_adjusted = float(p_adj)
    for row in tested:
        assert row.test is not None and row.statistic is not None and row.threshold is not None
        if row.test in P_VALUE_TESTS:
            bh = config.multiple_testing == "bh"
            p = row.p_value_adjusted if bh else row.p_value
            row.drifted = bool(p < config.alpha)
            label = "BH-adjusted p" if bh else "p"
            relation = "<" if row.drifted else ">="
            row.message = f"{row.test} {label}={p:.3g} {relation} alpha {config.alpha}"
        else:
            row.drifted = bool(row.statistic >= row.threshold)
            relation = ">=" if row.drifted else "<"
            row.message = f"{row.test} {row.statistic:.3g} {relation} threshold {row.threshold}"
        row.message += ": drift" if row.drifted else ": no drift"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
