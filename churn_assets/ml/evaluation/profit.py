"""The decision in money: expected profit of retention offers at a threshold, and its curve.

Every customer scored at or above the threshold gets an offer costing `offer_cost`. A churner who
gets one stays with probability `offer_success_rate`, which is worth `customer_value`; a
non-churner's offer is spent for nothing. Customers below the threshold cost and earn nothing (the
baseline, profit 0). On labelled rows the expected profit of a threshold is

    profit = TP x success_rate x value - (TP + FP) x offer_cost

and on an unlabelled batch the churn probability stands in for the label:
`sum over offered rows of (p x success_rate x value - offer_cost)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn_assets.ml.evaluation.metrics import binary_inputs


@dataclass(frozen=True)
class Economics:
    """Retention economics (validated by the spec's `economics` entry)."""

    customer_value: float
    offer_cost: float
    offer_success_rate: float
    currency: str = ""

    @property
    def saved_per_churner(self) -> float:
        """Expected value of an offer to a churner: value x success rate."""
        return self.customer_value * self.offer_success_rate

    @property
    def break_even(self) -> float:
        """The churn probability at which an offer pays for itself (for calibrated scores)."""
        return self.offer_cost / self.saved_per_churner

    def money(self, amount: float) -> str:
        """`amount` as text with the currency label: `12,340 EUR`."""
        return f"{amount:,.0f} {self.currency}".rstrip()

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> Economics | None:
        """From the spec's `economics` as stored in the `feature_spec` record (None stays None)."""
        return None if not record else cls(**record)


def profit_curve(y_true: Any, proba: Any, economics: Economics) -> pd.DataFrame:
    """Expected profit at every distinct score used as threshold, highest threshold first.

    The first row, threshold +inf, offers nobody (profit 0). Each later row offers every row
    whose score is >= its threshold.

    Returns:
        Columns `threshold`, `offers`, `churners_reached` (TP), `wasted_offers` (FP),
        `offer_share`, `expected_profit`.

    Raises:
        ValueError: on mismatched lengths, NaN scores, non-0/1 labels or a single class.
    """
    y, p = binary_inputs(y_true, proba, what="y_true")
    order = np.argsort(-p, kind="stable")
    sorted_p, sorted_y = p[order], y[order]
    last_of_value = np.r_[np.flatnonzero(np.diff(sorted_p)), len(sorted_p) - 1]
    tp = np.r_[0, np.cumsum(sorted_y)[last_of_value]]
    fp = np.r_[0, np.cumsum(1 - sorted_y)[last_of_value]]
    profit = tp * economics.saved_per_churner - (tp + fp) * economics.offer_cost
    return pd.DataFrame(
        {
            "threshold": np.r_[np.inf, sorted_p[last_of_value]],
            "offers": tp + fp,
            "churners_reached": tp,
            "wasted_offers": fp,
            "offer_share": (tp + fp) / len(y),
            "expected_profit": profit.astype(float),
        }
    )


def profit_at(y_true: Any, proba: Any, threshold: float, economics: Economics) -> float:
    """Expected profit on labelled rows when every row with score >= `threshold` gets an offer."""
    y, p = binary_inputs(y_true, proba, what="y_true")
    offered = p >= threshold
    tp = int(y[offered].sum())
    return float(tp * economics.saved_per_churner - int(offered.sum()) * economics.offer_cost)


def profit_threshold(y_true: Any, proba: Any, economics: Economics) -> tuple[float, str]:
    """The threshold of highest expected profit on (out-of-fold) labelled rows.

    Ties go to the highest threshold (the fewest offers). When no offer pays, the threshold is
    just above the highest score, so nobody gets one.

    Returns:
        `(threshold, rationale)`: the threshold and a sentence with the profit it earns.
    """
    curve = profit_curve(y_true, proba, economics)
    best = int(np.argmax(curve["expected_profit"].to_numpy()))  # first max: highest threshold
    row = curve.iloc[best]
    threshold = float(row["threshold"])
    if not np.isfinite(threshold):
        threshold = float(np.nextafter(np.max(np.asarray(proba, dtype=float)), np.inf))
    everyone = curve.iloc[-1]
    e = economics
    return threshold, (
        f"threshold {threshold:.4f} maximises expected profit on out-of-fold predictions of "
        f"{len(np.asarray(proba))} training rows (a retained customer worth "
        f"{e.money(e.customer_value)}, an offer costing {e.money(e.offer_cost)}, accepted by "
        f"{e.offer_success_rate:.0%} of churners): {e.money(row['expected_profit'])} from "
        f"{int(row['offers'])} offers reaching {int(row['churners_reached'])} churners, "
        f"against {e.money(everyone['expected_profit'])} offering everyone and 0 offering nobody"
    )


def batch_profit(proba: Any, threshold: float, economics: Economics) -> dict[str, float]:
    """Expected profit of offers to an unlabelled scored batch, the score read as a probability.

    Returns:
        `offers`, `offer_cost` (total), `expected_saved` (value expected to be kept) and
        `expected_profit`, all plain numbers.
    """
    p = np.asarray(proba, dtype=float)
    offered = p[p >= threshold]
    saved = float(offered.sum() * economics.saved_per_churner)
    cost = float(len(offered) * economics.offer_cost)
    return {
        "offers": int(len(offered)),
        "offer_cost": cost,
        "expected_saved": saved,
        "expected_profit": saved - cost,
    }


def profit_markdown(curve: pd.DataFrame, threshold: float, economics: Economics) -> str:
    """A text profit curve: profit at a few offer shares and at the chosen threshold."""
    e = economics
    lines = ["| threshold | offers | share offered | churners reached | expected profit |"]
    lines.append("|---:|---:|---:|---:|---:|")
    picks = {0, len(curve) - 1}
    for share in (0.05, 0.1, 0.2, 0.3, 0.5):
        picks.add(int(np.argmin(np.abs(curve["offer_share"].to_numpy() - share))))
    chosen = int((curve["threshold"] >= threshold).sum()) - 1
    picks.add(max(chosen, 0))
    for i in sorted(picks):
        r = curve.iloc[i]
        mark = " (chosen)" if i == chosen else ""
        value = threshold if i == chosen else r["threshold"]  # the chosen one as chosen
        shown = "none" if not np.isfinite(value) else f"{value:.3f}"
        lines.append(
            f"| {shown}{mark} | {int(r['offers'])} | {r['offer_share']:.1%} | "
            f"{int(r['churners_reached'])} | {e.money(r['expected_profit'])} |"
        )
    return "\n".join(lines)
