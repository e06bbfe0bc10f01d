"""Plots of the per-segment report and of the profit curve, as PNG bytes (pyplot-free)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_assets.ml.evaluation.plots import holdout_png
from churn_assets.ml.evaluation.profit import Economics
from churn_assets.ml.figures import new_figure


def plot_segments(table: pd.DataFrame, overall: dict[str, float]) -> bytes:
    """ROC AUC and recall per segment with their intervals, the overall value as a dashed line.

    Segments without a number (too small, one class) are listed with their reason.
    """
    labels = [f"{s} = {v}" for s, v in zip(table["segment"], table["value"])]  # noqa: B905
    ys = np.arange(len(table))[::-1]
    fig = new_figure(10.0, max(2.5, 0.35 * len(table) + 1.2))
    for i, metric in enumerate(("roc_auc", "recall")):
        ax = fig.add_subplot(1, 2, i + 1)
        value = table[metric].to_numpy(dtype=float)
        low = table[f"{metric}_low"].to_numpy(dtype=float)
        high = table[f"{metric}_high"].to_numpy(dtype=float)
        shown = ~np.isnan(value)
        errors = np.vstack([value - low, high - value])[:, shown]
        ax.errorbar(value[shown], ys[shown], xerr=np.nan_to_num(errors), fmt="o", capsize=3)
        for y, note in zip(ys[~shown], table["note"].to_numpy()[~shown]):  # noqa: B905
            ax.text(0.02, y, note, transform=ax.get_yaxis_transform(), fontsize=7, va="center")
        if metric in overall:
            ax.axvline(overall[metric], linestyle="--", color="grey", label="all rows")
            ax.legend(loc="lower left", fontsize=7)
        ax.set_yticks(ys, labels if i == 0 else [""] * len(ys))
        ax.set_xlim(0.0, 1.02)
        ax.set_title("ROC AUC" if metric == "roc_auc" else "recall at the threshold")
    fig.tight_layout()
    return holdout_png(fig)


def plot_profit_curve(curve: pd.DataFrame, threshold: float, economics: Economics) -> bytes:
    """Expected profit against the share of customers offered, the chosen threshold marked."""
    fig = new_figure(6.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    share = curve["offer_share"].to_numpy()
    profit = curve["expected_profit"].to_numpy()
    ax.plot(share, profit, label="expected profit")
    chosen = max(int((curve["threshold"] >= threshold).sum()) - 1, 0)
    ax.scatter([share[chosen]], [profit[chosen]], color="red", zorder=3)
    ax.annotate(
        f"threshold {threshold:.3f}: {economics.money(profit[chosen])}",
        (share[chosen], profit[chosen]),
        textcoords="offset points",
        xytext=(8, -14),
        fontsize=8,
    )
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel("share of customers offered (highest scores first)")
    ax.set_ylabel(f"expected profit {economics.currency}".strip())
    ax.set_title("Profit curve on the holdout")
    fig.tight_layout()
    return holdout_png(fig)
