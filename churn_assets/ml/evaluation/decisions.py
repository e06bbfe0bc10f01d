"""What the evaluation adds when the spec names segments or retention economics.

One call, `decision_report`, turns the best candidate's holdout scores into the per-segment table
and the profit curve, their plots and the model card's sections; without `segments` and
`economics` in the spec it returns an empty report and the evaluation is as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import recall_score, roc_auc_score

from churn_assets.ml.evaluation.decision_plots import plot_profit_curve, plot_segments
from churn_assets.ml.evaluation.profit import (
    Economics,
    profit_at,
    profit_curve,
    profit_markdown,
)
from churn_assets.ml.evaluation.segments import (
    check_segments,
    label_frame,
    segment_metrics,
    segments_from_records,
    segments_markdown,
)
from churn_assets.ml.jsonable import jsonable


@dataclass
class DecisionReport:
    """Per-segment table and profit summary of one model on the holdout, with plots."""

    segments: pd.DataFrame | None = None
    profit: dict[str, Any] | None = None
    profit_table: str = ""
    plots: dict[str, bytes] = field(default_factory=dict)
    card_sections: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The JSON-able part kept in the evaluation's record (NaN becomes None)."""
        out: dict[str, Any] = {"card_sections": self.card_sections} if self.card_sections else {}
        if self.segments is not None:
            out["segments"] = jsonable(self.segments.to_dict("records"))
        if self.profit is not None:
            out["profit"] = jsonable(self.profit)
        return out


def _profit_summary(y, proba, threshold, economics: Economics) -> tuple[dict, pd.DataFrame]:
    curve = profit_curve(y, proba, economics)
    hindsight = curve.iloc[int(np.argmax(curve["expected_profit"].to_numpy()))]
    summary = {
        "threshold": threshold,
        "expected_profit": profit_at(y, proba, threshold, economics),
        "offers": int((np.asarray(proba) >= threshold).sum()),
        "offer_everyone": float(curve["expected_profit"].iloc[-1]),
        "hindsight_best": float(hindsight["expected_profit"]),
        "hindsight_threshold": float(hindsight["threshold"]),
        "break_even_probability": economics.break_even,
        "economics": {
            "customer_value": economics.customer_value,
            "offer_cost": economics.offer_cost,
            "offer_success_rate": economics.offer_success_rate,
            "currency": economics.currency,
        },
    }
    return summary, curve


def _profit_sentence(summary: dict, economics: Economics, rows: int) -> str:
    m = economics.money
    return (
        f"At threshold {summary['threshold']:.4f} (chosen out of fold), offers to "
        f"{summary['offers']} of {rows} holdout customers earn an expected "
        f"{m(summary['expected_profit'])}; offering everyone earns "
        f"{m(summary['offer_everyone'])}, nobody 0, and the best threshold in hindsight on these "
        f"very rows {m(summary['hindsight_best'])}. The curve is plotted in "
        "`plots/profit_curve.png` of the `model_evaluation` MLflow run."
    )


def decision_report(
    feature_spec: dict, X_holdout: pd.DataFrame, y_holdout: Any, proba: Any, threshold: float
) -> DecisionReport:
    """Per-segment quality and expected profit of one model on the holdout.

    Args:
        feature_spec: the `feature_spec` record (its `segments` and `economics`, when present).
        X_holdout: holdout inputs (the segment columns are read from it).
        y_holdout: 0/1 holdout labels.
        proba: the model's holdout churn probabilities.
        threshold: its decision threshold (chosen out of fold).

    Returns:
        A `DecisionReport`; empty when the spec names neither segments nor economics.
    """
    report = DecisionReport()
    y = np.asarray(y_holdout).astype(int)
    p = np.asarray(proba, dtype=float)
    segments = segments_from_records(feature_spec.get("segments"))
    if segments:
        labels = label_frame(X_holdout, segments)
        report.segments = segment_metrics(y, p, threshold, labels)
        overall = {
            "roc_auc": float(roc_auc_score(y, p)),
            "recall": float(recall_score(y, (p >= threshold).astype(int))),
        }
        report.plots["segment_metrics"] = plot_segments(report.segments, overall)
        report.card_sections["Quality by segment (holdout)"] = segments_markdown(report.segments)
    economics = Economics.from_record(feature_spec.get("economics"))
    if economics is not None:
        report.profit, curve = _profit_summary(y, p, threshold, economics)
        report.profit_table = profit_markdown(curve, threshold, economics)
        report.plots["profit_curve"] = plot_profit_curve(curve, threshold, economics)
        report.card_sections["Expected profit (holdout)"] = (
            _profit_sentence(report.profit, economics, len(y)) + "\n\n" + report.profit_table
        )
    return report


def decision_entries(spec, fspec) -> dict[str, Any]:
    """The spec's `segments` (checked against the model's input columns) and `economics` as JSON
    for the `feature_spec` record; empty when the spec has neither, so that record is unchanged.

    Raises:
        SpecError: a segment that is not an input column (`segments.check_segments`).
    """
    out: dict[str, Any] = {}
    if spec.segments:
        check_segments(spec.segments, fspec.inputs, fspec.numeric)
        out["segments"] = [s.model_dump(mode="json") for s in spec.segments]
    if spec.economics is not None:
        out["economics"] = spec.economics.model_dump(mode="json")
    return out
