"""Holdout evaluation: metrics, the decision threshold, plots and the choice among candidates.

Probabilities are of the positive class (1 = churns); a row is predicted a churner when its
probability is >= the threshold. Plots are drawn with matplotlib's object-oriented API on an Agg
canvas (no pyplot, so no global backend switch and no figure left open) and returned as PNG bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

THRESHOLD_OBJECTIVES = ("f1", "cost")

Curves = Mapping[str, tuple[Any, Any]]


def _binary_inputs(y_true: Any, proba: Any, what: str = "y_true") -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and scores and return them as int and float arrays."""
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=float)
    if y.ndim != 1 or p.ndim != 1:
        raise ValueError(
            f"{what} and the probabilities must be 1-D; got shapes {y.shape} and {p.shape}"
        )
    if len(y) != len(p):
        raise ValueError(f"{what} has {len(y)} rows but the probabilities have {len(p)}")
    if len(y) == 0:
        raise ValueError(f"{what} is empty; there is nothing to evaluate")
    if np.isnan(p).any():
        raise ValueError(f"the probabilities contain {int(np.isnan(p).sum())} NaN values")
    labels = set(pd.unique(y).tolist())
    if not labels <= {0, 1}:
        raise ValueError(f"{what} must be 0/1 (or bool); found labels {sorted(map(repr, labels))}")
    if len(labels) < 2:
        raise ValueError(
            f"{what} has only one class ({len(y)} rows, all {sorted(labels)}); "
            "ranking metrics need both churners (1) and non-churners (0)"
        )
    return y.astype(int), p


def lift_top_decile(y_true: Any, proba: Any) -> float:
    """Return the churn rate among the 10% highest scores divided by the overall churn rate.

    The top decile is the `ceil(n / 10)` rows with the highest probability; ties are broken by
    row order (a stable sort), so the value is deterministic.

    Raises:
        ValueError: on mismatched lengths, non-0/1 labels or a single class.
    """
    y, p = _binary_inputs(y_true, proba)
    n_top = max(1, math.ceil(len(y) / 10))
    top = np.argsort(-p, kind="stable")[:n_top]
    return float(y[top].mean() / y.mean())


def holdout_metrics(y_true: Any, proba: Any, threshold: float = 0.5) -> dict[str, float]:
    """Compute the holdout metrics of one model.

    Args:
        y_true: 0/1 labels.
        proba: churn probabilities aligned with `y_true`.
        threshold: a row is predicted a churner when its probability is >= this value.

    Returns:
        `roc_auc`, `pr_auc` (average precision), `f1`, `precision`, `recall`, `accuracy`,
        `brier`, `log_loss`, `lift_top_decile` and `threshold`, all plain floats.

    Raises:
        ValueError: on mismatched lengths, NaN probabilities, non-0/1 labels or a single class.
    """
    y, p = _binary_inputs(y_true, proba)
    y_pred = (p >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "f1": float(f1_score(y, y_pred, zero_division=0)),
        "precision": float(precision_score(y, y_pred, zero_division=0)),
        "recall": float(recall_score(y, y_pred, zero_division=0)),
        "accuracy": float(accuracy_score(y, y_pred)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "lift_top_decile": lift_top_decile(y, p),
        "threshold": float(threshold),
    }


def choose_threshold(
    y_true_oof: Any,
    proba_oof: Any,
    objective: str = "f1",
    cost_false_negative: float = 1.0,
    cost_false_positive: float = 1.0,
) -> tuple[float, str]:
    """Choose the decision threshold from out-of-fold predictions of the training split.

    `objective="f1"` maximises F1 over the thresholds of `precision_recall_curve` (ties go to
    the lowest such threshold). `objective="cost"` minimises the expected cost
    `cost_false_negative * FN + cost_false_positive * FP` over every distinct probability
    (a missed churner against a retention offer wasted on a customer who would have stayed);
    ties go to the highest threshold, i.e. the fewest offers. If flagging nobody is cheapest,
    the threshold is just above the highest probability.

    Args:
        y_true_oof: 0/1 labels of the training rows.
        proba_oof: out-of-fold churn probabilities of the same rows.
        objective: "f1" or "cost".
        cost_false_negative: cost of a missed churner (> 0).
        cost_false_positive: cost of an offer to a non-churner (> 0).

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
    y, p = _binary_inputs(y_true_oof, proba_oof, what="y_true_oof")
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


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _new_axes(title: str, size: tuple[float, float] = (6.0, 5.0)) -> tuple[Figure, Any]:
    fig = Figure(figsize=size)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title)
    return fig, ax


def _check_curves(curves: Curves) -> None:
    if not curves:
        raise ValueError("no curves to plot; pass {name: (y_true, proba)}")


def plot_roc_curves(curves: Curves, title: str = "ROC curves (holdout)") -> bytes:
    """Overlay the ROC curves of several models, AUC in the legend.

    Args:
        curves: `{name: (y_true, proba)}`.
        title: the figure title.

    Returns:
        PNG bytes.

    Raises:
        ValueError: if `curves` is empty or an entry has invalid labels/probabilities.
    """
    _check_curves(curves)
    fig, ax = _new_axes(title)
    for name, (y_true, proba) in curves.items():
        y, p = _binary_inputs(y_true, proba)
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    return _png(fig)


def plot_pr_curves(curves: Curves, title: str = "Precision-recall curves (holdout)") -> bytes:
    """Overlay the precision-recall curves of several models, average precision in the legend.

    Args:
        curves: `{name: (y_true, proba)}`.
        title: the figure title.

    Returns:
        PNG bytes.

    Raises:
        ValueError: if `curves` is empty or an entry has invalid labels/probabilities.
    """
    _check_curves(curves)
    fig, ax = _new_axes(title)
    base_rate = None
    for name, (y_true, proba) in curves.items():
        y, p = _binary_inputs(y_true, proba)
        precision, recall, _ = precision_recall_curve(y, p)
        ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(y, p):.3f})")
        base_rate = float(y.mean())
    ax.axhline(base_rate, linestyle="--", color="grey", label=f"base rate {base_rate:.3f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper right")
    return _png(fig)


def plot_confusion_matrix(y_true: Any, y_pred: Any, title: str = "Confusion matrix") -> bytes:
    """Draw the 2x2 confusion matrix with counts and row shares.

    Args:
        y_true: 0/1 labels.
        y_pred: 0/1 predictions.
        title: the figure title.

    Returns:
        PNG bytes.
    """
    matrix = confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=[0, 1])
    fig, ax = _new_axes(title, size=(5.0, 4.5))
    ax.imshow(matrix, cmap="Blues")
    row_totals = matrix.sum(axis=1, keepdims=True).clip(min=1)
    for i in range(2):
        for j in range(2):
            color = "white" if matrix[i, j] > matrix.max() / 2 else "black"
            share = matrix[i, j] / row_totals[i, 0]
            ax.text(j, i, f"{matrix[i, j]}\n({share:.1%})", ha="center", va="center", color=color)
    ax.set_xticks([0, 1], labels=["stays (0)", "churns (1)"])
    ax.set_yticks([0, 1], labels=["stays (0)", "churns (1)"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    return _png(fig)


def plot_calibration(
    curves: Curves, n_bins: int = 10, title: str = "Calibration (holdout)"
) -> bytes:
    """Overlay reliability curves (observed churn rate against mean predicted probability).

    Args:
        curves: `{name: (y_true, proba)}`.
        n_bins: number of equal-width probability bins.
        title: the figure title.

    Returns:
        PNG bytes.

    Raises:
        ValueError: if `curves` is empty or an entry has invalid labels/probabilities.
    """
    _check_curves(curves)
    fig, ax = _new_axes(title)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for name, (y_true, proba) in curves.items():
        y, p = _binary_inputs(y_true, proba)
        observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
        ax.plot(
            predicted, observed, marker="o", label=f"{name} (Brier {brier_score_loss(y, p):.3f})"
        )
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed churn rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    return _png(fig)


def feature_importance_table(
    pipeline: Any,
    X: pd.DataFrame,
    y: Any,
    random_state: int = 42,
    n_repeats: int = 5,
    scoring: str = "roc_auc",
) -> pd.DataFrame:
    """Permutation importance of the raw input columns of a fitted pipeline.

    Each raw column of `X` is shuffled `n_repeats` times and the drop in `scoring` recorded, so
    a categorical column counts once however many one-hot columns it becomes.

    Args:
        pipeline: a fitted pipeline taking the raw columns of `X`.
        X: raw feature columns (use the holdout, not the training rows).
        y: 0/1 labels aligned with `X`.
        random_state: seed of the shuffles.
        n_repeats: shuffles per column.
        scoring: scikit-learn scorer name.

    Returns:
        DataFrame with `feature`, `importance_mean`, `importance_std`, sorted by importance
        descending (ties by feature name).
    """
    result = permutation_importance(
        pipeline, X, y, scoring=scoring, n_repeats=n_repeats, random_state=random_state, n_jobs=1
    )
    table = pd.DataFrame(
        {
            "feature": [str(c) for c in X.columns],
            "importance_mean": result.importances_mean.astype(float),
            "importance_std": result.importances_std.astype(float),
        }
    )
    return table.sort_values(
        ["importance_mean", "feature"], ascending=[False, True], ignore_index=True
    )


def plot_feature_importance(
    pipeline: Any,
    X: pd.DataFrame,
    y: Any,
    random_state: int = 42,
    top_n: int = 15,
    table: pd.DataFrame | None = None,
) -> bytes:
    """Bar chart of the `top_n` permutation importances of the raw input columns.

    Args:
        pipeline: a fitted pipeline taking the raw columns of `X`.
        X: raw feature columns.
        y: 0/1 labels aligned with `X`.
        random_state: seed of the shuffles.
        top_n: how many features to show.
        table: a result of `feature_importance_table` to reuse instead of recomputing.

    Returns:
        PNG bytes.
    """
    if table is None:
        table = feature_importance_table(pipeline, X, y, random_state=random_state)
    top = table.head(top_n).iloc[::-1]
    fig, ax = _new_axes(
        f"Permutation importance (top {len(top)})", size=(7.0, 0.35 * len(top) + 1.5)
    )
    ax.barh(top["feature"], top["importance_mean"], xerr=top["importance_std"], color="tab:blue")
    ax.set_xlabel("drop in ROC AUC when shuffled")
    return _png(fig)


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
