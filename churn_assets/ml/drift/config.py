"""The thresholds and test choices of a drift comparison."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from churn_assets.ml.settings import setting

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
    "wasserstein", "psi", "chi2", "jensenshannon"). Each field's `metadata["description"]` says
    what it is; the Dagster run config of `drift_report` is derived from these fields. Raises
    `ValueError` for out-of-range values.
    """

    alpha: float = setting(0.05, "p-value threshold of KS and chi-squared tests.")
    wasserstein_threshold: float = setting(0.1, "Normalised Wasserstein threshold.")
    jensenshannon_threshold: float = setting(0.1, "Jensen-Shannon distance threshold.")
    psi_threshold: float = setting(0.2, "PSI threshold (when PSI is the method).")
    drift_share: float = setting(0.5, "Share of drifted columns for dataset drift.")
    min_rows: int = setting(30, "Fewer current rows: not enough rows to test.")
    small_sample_rows: int = setting(
        1000, "Up to this many reference values: p-value tests decide."
    )
    method: Method = setting("auto", "Test of every column.")
    column_methods: dict[str, Method] = setting(
        description="Column name -> test, overriding method.", default_factory=dict
    )
    multiple_testing: Literal["none", "bh"] = setting(
        "none", "'none' or 'bh' (Benjamini-Hochberg)."
    )
    ks_method: Literal["auto", "exact", "asymp"] = setting("auto", "scipy's KS p-value method.")
    low_cardinality: int = setting(5, "Numeric columns with this few values: categorical.")
    psi_epsilon: float = setting(1e-4, "Floor of empty bin shares in PSI.")

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
