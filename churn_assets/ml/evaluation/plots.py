"""Holdout plots (ROC, precision-recall, calibration, confusion matrix) as PNG bytes.

Each plot is drawn by scikit-learn's Display classes on a pyplot-free figure (`ml.figures`); the
`*_figure` functions return that figure (for tests and notebooks), the `plot_*` functions its PNG.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    RocCurveDisplay,
    average_precision_score,
    brier_score_loss,
    roc_auc_score,
)

from churn_assets.ml.evaluation.metrics import binary_inputs
from churn_assets.ml.figures import new_axes, png_bytes

Curves = Mapping[str, tuple[Any, Any]]
CLASS_NAMES = ["stays (0)", "churns (1)"]


def holdout_png(fig: Figure) -> bytes:
    """The PNG bytes of an evaluation figure (100 dpi, trimmed to its content)."""
    return png_bytes(fig, dpi=100, bbox_inches="tight")


def _checked(curves: Curves) -> list[tuple[str, np.ndarray, np.ndarray]]:
    if not curves:
        raise ValueError("no curves to plot; pass {name: (y_true, proba)}")
    return [(name, *binary_inputs(y_true, proba)) for name, (y_true, proba) in curves.items()]


def _overlay(
    display: type[RocCurveDisplay] | type[PrecisionRecallDisplay],
    curves: Curves,
    title: str,
    score: Callable[[np.ndarray, np.ndarray], str],
    chance: Callable[[np.ndarray], str],
) -> tuple[Figure, Axes]:
    """One Display curve per model, `score` in its legend entry, the chance level drawn once."""
    fig, ax = new_axes(title)
    for i, (name, y, p) in enumerate(_checked(curves)):
        display.from_predictions(
            y,
            p,
            ax=ax,
            curve_kwargs={"label": f"{name} ({score(y, p)})"},
            plot_chance_level=i == 0,
            chance_level_kw={"label": chance(y), "color": "grey"},
        )
    return fig, ax


def roc_figure(curves: Curves, title: str = "ROC curves (holdout)") -> Figure:
    """Overlay the ROC curves of several models (`{name: (y_true, proba)}`), AUC in the legend.

    Raises:
        ValueError: if `curves` is empty or an entry has invalid labels/probabilities.
    """
    fig, ax = _overlay(
        RocCurveDisplay,
        curves,
        title,
        score=lambda y, p: f"AUC {roc_auc_score(y, p):.3f}",
        chance=lambda y: "chance",
    )
    ax.legend(loc="lower right")
    return fig


def pr_figure(curves: Curves, title: str = "Precision-recall curves (holdout)") -> Figure:
    """Overlay precision-recall curves, average precision in the legend, the base rate dashed.

    Raises:
        ValueError: if `curves` is empty or an entry has invalid labels/probabilities.
    """
    fig, ax = _overlay(
        PrecisionRecallDisplay,
        curves,
        title,
        score=lambda y, p: f"AP {average_precision_score(y, p):.3f}",
        chance=lambda y: f"base rate {y.mean():.3f}",
    )
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper right")
    return fig


def calibration_figure(
    curves: Curves, n_bins: int = 10, title: str = "Calibration (holdout)"
) -> Figure:
    """Overlay reliability curves (observed churn rate against mean predicted probability).

    Args:
        curves: `{name: (y_true, proba)}`.
        n_bins: number of equal-width probability bins.
        title: the figure title.

    Raises:
        ValueError: if `curves` is empty or an entry has invalid labels/probabilities.
    """
    fig, ax = new_axes(title)
    for i, (name, y, p) in enumerate(_checked(curves)):
        CalibrationDisplay.from_predictions(
            y,
            p,
            n_bins=n_bins,
            strategy="uniform",
            ax=ax,
            ref_line=i == 0,
            marker="o",
            label=f"{name} (Brier {brier_score_loss(y, p):.3f})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    return fig


def confusion_figure(y_true: Any, y_pred: Any, title: str = "Confusion matrix") -> Figure:
    """The 2x2 confusion matrix of 0/1 labels and predictions, with counts and row shares."""
    fig, ax = new_axes(title, size=(5.0, 4.5))
    display = ConfusionMatrixDisplay.from_predictions(
        np.asarray(y_true),
        np.asarray(y_pred),
        labels=[0, 1],
        display_labels=CLASS_NAMES,
        cmap="Blues",
        colorbar=False,
        ax=ax,
    )
    matrix = display.confusion_matrix
    row_totals = matrix.sum(axis=1, keepdims=True).clip(min=1)
    for (i, j), text in np.ndenumerate(display.text_):
        text.set_text(f"{matrix[i, j]}\n({matrix[i, j] / row_totals[i, 0]:.1%})")
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    return fig


def plot_roc_curves(curves: Curves, title: str = "ROC curves (holdout)") -> bytes:
    """PNG bytes of `roc_figure`."""
    return holdout_png(roc_figure(curves, title))


def plot_pr_curves(curves: Curves, title: str = "Precision-recall curves (holdout)") -> bytes:
    """PNG bytes of `pr_figure`."""
    return holdout_png(pr_figure(curves, title))


def plot_calibration(
    curves: Curves, n_bins: int = 10, title: str = "Calibration (holdout)"
) -> bytes:
    """PNG bytes of `calibration_figure`."""
    return holdout_png(calibration_figure(curves, n_bins, title))


def plot_confusion_matrix(y_true: Any, y_pred: Any, title: str = "Confusion matrix") -> bytes:
    """PNG bytes of `confusion_figure`."""
    return holdout_png(confusion_figure(y_true, y_pred, title))
