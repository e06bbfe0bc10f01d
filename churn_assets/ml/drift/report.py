"""The result of a drift comparison: one `ColumnDrift` per tested column, in a `DriftReport`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from churn_assets.ml.jsonable import jsonable


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
        return jsonable(asdict(self))

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
