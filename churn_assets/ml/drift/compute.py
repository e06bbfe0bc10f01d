"""`compute_drift`: a batch against the training reference, and the dataset decision."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

import pandas as pd
from scipy import stats

from churn_assets.ml.drift import stats as ds
from churn_assets.ml.drift.columns import categorical_row, missing_row, numeric_row, untested_row
from churn_assets.ml.drift.config import FEATURE_KINDS, P_VALUE_TESTS, DriftConfig
from churn_assets.ml.drift.reference import DriftReference, numeric_values
from churn_assets.ml.drift.report import ColumnDrift, DriftReport


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
                untested_row(name, ref.kind, ref.n_valid, 0, "column absent from current data")
            )
            continue
        series = current[name]
        if ref.values is not None:
            cur = numeric_values(series, name, "current")
            n_missing = len(series) - cur.size  # infinities count as missing, as in the reference
            rows.append(numeric_row(ref, cur, config))
        else:
            n_missing = int(series.isna().sum())
            rows.append(categorical_row(ref, ds.value_counts(series), config))
        if ref.kind in FEATURE_KINDS:
            rows.append(missing_row(ref, len(series), n_missing, config))
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
