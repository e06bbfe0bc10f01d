"""The holdout plots are drawn by scikit-learn's Displays with the values the legend promises."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)

from churn_assets.ml.evaluation.plots import (
    calibration_figure,
    confusion_figure,
    plot_calibration,
    plot_confusion_matrix,
    plot_pr_curves,
    plot_roc_curves,
    pr_figure,
    roc_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def curves() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    y = (rng.random(600) < 0.3).astype(int)
    good = 1 / (1 + np.exp(-(2.0 * y - 1.0 + rng.normal(0, 1.0, len(y)))))
    weak = 1 / (1 + np.exp(-(0.5 * y - 1.0 + rng.normal(0, 1.0, len(y)))))
    return {"good": (y, good), "weak": (y, weak)}


def _legend(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_roc_figure_draws_each_curve_with_its_auc(curves):
    fig = roc_figure(curves)
    y, good = curves["good"]
    labels = _legend(fig)
    for name, (y, p) in curves.items():
        assert f"{name} (AUC {roc_auc_score(y, p):.3f})" in labels
    assert labels.count("chance") == 1
    line = next(ln for ln in fig.axes[0].lines if ln.get_label().startswith("good"))
    fpr, tpr, _ = roc_curve(y, good)
    np.testing.assert_allclose(line.get_xdata(), fpr)
    np.testing.assert_allclose(line.get_ydata(), tpr)


def test_pr_figure_shows_average_precision_and_the_base_rate_once(curves):
    labels = _legend(pr_figure(curves))
    for name, (y, p) in curves.items():
        assert f"{name} (AP {average_precision_score(y, p):.3f})" in labels
    y = curves["good"][0]
    assert labels.count(f"base rate {y.mean():.3f}") == 1


def test_calibration_figure_names_the_brier_score(curves):
    labels = _legend(calibration_figure(curves, n_bins=5))
    for name, (y, p) in curves.items():
        assert f"{name} (Brier {brier_score_loss(y, p):.3f})" in labels


def test_confusion_figure_shows_counts_and_row_shares():
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    pred = np.array([0, 1, 0, 1, 1, 0, 1, 0])
    fig = confusion_figure(y, pred)
    texts = {t.get_text() for t in fig.axes[0].texts}
    matrix = confusion_matrix(y, pred, labels=[0, 1])  # [[3, 1], [1, 3]]
    assert texts == {
        f"{matrix[i, j]}\n({matrix[i, j] / matrix[i].sum():.1%})" for i in (0, 1) for j in (0, 1)
    }
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["stays (0)", "churns (1)"]


def test_plot_functions_return_png_bytes_and_refuse_bad_input(curves):
    y, p = curves["good"]
    for png in (
        plot_roc_curves(curves),
        plot_pr_curves(curves),
        plot_calibration(curves),
        plot_confusion_matrix(y, (p >= 0.5).astype(int)),
    ):
        assert png.startswith(PNG_MAGIC) and len(png) > 1000
    with pytest.raises(ValueError, match="no curves"):
        roc_figure({})
    with pytest.raises(ValueError, match="only one class"):
        pr_figure({"flat": (np.zeros(5, int), np.linspace(0, 1, 5))})
