"""The decision threshold, chosen on out-of-fold predictions of the training split."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve

from churn_assets.ml.evaluation.metrics import binary_inputs
from churn_assets.ml.evaluation.profit import Economics, profit_threshold

THRESHOLD_OBJECTIVES = ("f1", "cost", "profit")


def choose_threshold(
    y_true_oof: Any,
    proba_oof: Any,
    objective: str = "f1",
    cost_false_negative: float = 1.0,
    cost_false_positive: float = 1.0,
    economics: Economics | None = None,
) -> tuple[float, str]:
    """Choose the decision threshold from out-of-fold predictions of the training split.

    `objective="f1"` maximises F1 over the thresholds of `precision_recall_curve` (ties go to
    the lowest such threshold). `objective="cost"` minimises the expected cost
    `cost_false_negative * FN + cost_false_positive * FP` over every distinct probability
    (a missed churner against a retention offer wasted on a customer who would have stayed);
    ties go to the highest threshold, i.e. the fewest offers. If flagging nobody is cheapest,
    the threshold is just above the highest probability. `objective="profit"` maximises the
    expected profit of retention offers under `economics` (`profit.profit_threshold`).

    Args:
        y_true_oof: 0/1 labels of the training rows.
        proba_oof: out-of-fold churn probabilities of the same rows.
        objective: "f1", "cost" or "profit".
        cost_false_negative: cost of a missed churner (> 0).
        cost_false_positive: cost of an offer to a non-churner (> 0).
        economics: the retention economics; required by "profit".

    Returns:
        `(threshold, rationale)`: the threshold and a sentence explaining it.

    Raises:
        ValueError: unknown objective, non-positive costs, or invalid labels/probabilities.
    """
    if objective not in THRESHOLD_OBJECTIVES:
        raise ValueError(
            f"unknown threshold objective {objective!r}; choose one of {THRESHOLD_OBJECTIVES}"
        )
    if cost_false_negative <= 0 or cost_false_positive <= 0:
        raise ValueError(
            "costs must be positive; got cost_false_negative="
            f"{cost_false_negative}, cost_false_positive={cost_false_positive}"
        )
    if objective == "profit":
        if economics is None:
            raise ValueError("the 'profit' objective needs the spec's `economics` entry")
        return profit_threshold(y_true_oof, proba_oof, economics)
    y, p = binary_inputs(y_true_oof, proba_oof, what="y_true_oof")
    n = len(y)

    if objective == "f1":
        precision, recall, thresholds = precision_recall_curve(y, p)
        precision, recall = precision[:-1], recall[:-1]
        denom = precision + recall
        f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
        best = int(np.argmax(f1))
        threshold = float(thresholds[best])
        return threshold, (
            f"threshold {threshold:.4f} maximises F1 on out-of-fold predictions of {n} training "
            f"rows: F1 {f1[best]:.3f}, precision {precision[best]:.3f}, "
            f"recall {recall[best]:.3f}"
        )

    # Counts flagged at each distinct score, highest first (a threshold flags every row whose
    # score is >= it); the extra first candidate, +inf, flags nobody.
    order = np.argsort(-p, kind="stable")
    sorted_p, sorted_y = p[order], y[order]
    last_of_value = np.r_[np.flatnonzero(np.diff(sorted_p)), len(sorted_p) - 1]
    tps = np.r_[0, np.cumsum(sorted_y)[last_of_value]]
    fps = np.r_[0, np.cumsum(1 - sorted_y)[last_of_value]]
    thresholds = np.r_[np.inf, sorted_p[last_of_value]]
    positives = int(y.sum())
    fn = positives - tps
    cost = cost_false_negative * fn + cost_false_positive * fps
    best = int(np.argmin(cost))
    threshold = float(thresholds[best])
    if not np.isfinite(threshold):
        threshold = float(np.nextafter(p.max(), np.inf))
    default_cost = cost_false_negative * int(((p < 0.5) & (y == 1)).sum()) + (
        cost_false_positive * int(((p >= 0.5) & (y == 0)).sum())
    )
    return threshold, (
        f"threshold {threshold:.4f} minimises expected cost on out-of-fold predictions of {n} "
        f"training rows, a missed churner costing {cost_false_negative:g} and an offer to a "
        f"non-churner {cost_false_positive:g}: cost {cost[best]:g} "
        f"({int(fn[best])} missed churners, {int(fps[best])} wasted offers) against "
        f"{default_cost:g} at threshold 0.5"
    )
