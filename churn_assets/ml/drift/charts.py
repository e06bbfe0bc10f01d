"""Reference-vs-current charts of drift columns, drawn without pyplot.

Numeric columns are overlaid density histograms on common bins (spanning the central 99% of both
samples), categorical columns side-by-side bars of category proportions (the 12 most common
categories, the rest as "(other)").

Figures come from `ml.figures` (Agg canvas, never pyplot).
"""

from __future__ import annotations

import base64
import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from churn_assets.ml.drift import stats as ds
from churn_assets.ml.drift.reference import ColumnReference, DriftReference, numeric_values
from churn_assets.ml.drift.report import ColumnDrift, DriftReport
from churn_assets.ml.figures import new_figure, png_bytes

REFERENCE_COLOR = "#4c72b0"


CURRENT_COLOR = "#dd8452"


HIST_BINS = 30


TOP_CATEGORIES = 12


VALUE_KINDS = ("numeric", "categorical", "prediction", "target")


def plot_top_drifted(
    reference: DriftReference, current: pd.DataFrame, report: DriftReport, top_n: int = 4
) -> bytes:
    """PNG bytes of reference-vs-current charts for the `top_n` most drifted columns.

    Columns are ranked drifted first, then by their distance relative to its threshold (normalised
    Wasserstein / 0.1 or Jensen-Shannon / 0.1 by default), so the ranking is comparable across
    numeric and categorical columns. Missing-value rows are not charted. Returns a PNG with a note
    when no column was tested. Raises `ValueError` when `top_n < 1`.
    """
    if top_n < 1:
        raise ValueError(f"top_n must be at least 1, got {top_n}")
    cfg = report.config
    candidates = [
        c
        for c in report.columns
        if c.tested and c.kind in VALUE_KINDS and c.column in current.columns
    ]

    def magnitude(c: ColumnDrift) -> float:
        categorical = c.test in ("chi2", "jensenshannon") or "chi2_p_value" in c.all_stats
        limit = cfg.get("jensenshannon_threshold" if categorical else "wasserstein_threshold")
        return (c.distance or 0.0) / (limit or 1.0)

    chosen = sorted(candidates, key=lambda c: (c.drifted, magnitude(c)), reverse=True)[:top_n]
    ncols = min(2, max(len(chosen), 1))
    nrows = max(math.ceil(len(chosen) / ncols), 1)
    fig = new_figure(5.0 * ncols, 3.2 * nrows, dpi=90)
    if not chosen:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no column had enough rows to test", ha="center", va="center")
        ax.set_axis_off()
    for i, result in enumerate(chosen):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        draw(ax, reference.columns[result.column], current[result.column], result)
    fig.tight_layout()
    return png_bytes(fig)


def draw(ax: Axes, ref: ColumnReference, series: pd.Series, result: ColumnDrift | None) -> None:
    """Draw reference vs current of one column on `ax`, titled with its drift result."""
    if ref.values is not None:
        cur = finite_values(series, ref.column)  # unsorted: a sort per chart costs more than it
        few = ds.n_distinct_sorted(ref.values, 12) <= 12 and len(pd.unique(cur)) <= 12
        if few:  # a histogram of a few distinct numbers is mostly empty bins: draw bars
            cur.sort()  # few distinct values: cheap
            _draw_categorical(ax, ds.sorted_value_counts(ref.values), ds.sorted_value_counts(cur))
        else:
            _draw_numeric(ax, ref.values, cur)
    else:
        _draw_categorical(ax, ref.counts or {}, ds.value_counts(series))
    title = ref.column
    if result is not None and result.tested:
        flag = "DRIFT" if result.drifted else "no drift"
        title = f"{ref.column}: {flag} ({result.test} {result.statistic:.3g})"
    ax.set_title(title, fontsize=9, color="#b00020" if result and result.drifted else "black")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)


def finite_values(series: pd.Series, column: str) -> np.ndarray:
    """The finite float64 values of a numeric column, in their order; raises ValueError naming
    the column when it is not numeric (as `numeric_values` does)."""
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        numeric_values(series, column, "current")  # raises the error that names the column
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values[np.isfinite(values)]


def bin_counts(ref_sorted: np.ndarray, cur: np.ndarray, edges: np.ndarray) -> list[np.ndarray]:
    """Counts per bin [e_i, e_i+1), the last bin closed, of the sorted reference values and
    the (unsorted) current values; values outside the edges are not counted."""
    hi = edges[-1]
    ref_counts = np.diff(np.searchsorted(ref_sorted, edges, side="left"))
    ref_counts[-1] += np.searchsorted(ref_sorted, hi, side="right") - np.searchsorted(
        ref_sorted, hi
    )
    return [ref_counts, np.histogram(cur, bins=edges)[0]]


def numeric_density(ref: np.ndarray, cur: np.ndarray):
    """(edges, reference density, current density) on common bins over the central 99% of
    both samples (`ref` sorted, `cur` in any order), or None when a side has no values."""
    if ref.size == 0 or cur.size == 0:
        return None
    # Common bins over the central 99% of both samples, so one outlier cannot squash the chart.
    lo = min(ds.sorted_quantile(ref, 0.005), np.quantile(cur, 0.005))
    hi = max(ds.sorted_quantile(ref, 0.995), np.quantile(cur, 0.995))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, HIST_BINS + 1)
    width = edges[1] - edges[0]
    ref_counts, cur_counts = bin_counts(ref, cur, edges)
    return edges, ref_counts / (ref.size * width), cur_counts / (cur.size * width)


def category_shares(ref: dict[str, int], cur: dict[str, int]):
    """(labels, reference proportions, current proportions) of the most common categories of
    both sides together, the rest as "(other)"."""
    n_ref, n_cur = max(sum(ref.values()), 1), max(sum(cur.values()), 1)
    share = {k: ref.get(k, 0) / n_ref + cur.get(k, 0) / n_cur for k in set(ref) | set(cur)}
    top = sorted(share, key=lambda k: (-share[k], k))[:TOP_CATEGORIES]
    labels = list(top)
    ref_props = [ref.get(k, 0) / n_ref for k in top]
    cur_props = [cur.get(k, 0) / n_cur for k in top]
    if len(share) > len(top):
        labels.append("(other)")
        ref_props.append(1.0 - sum(ref_props) if ref else 0.0)
        cur_props.append(1.0 - sum(cur_props) if cur else 0.0)
    return labels, ref_props, cur_props


def _draw_numeric(ax: Axes, ref: np.ndarray, cur: np.ndarray) -> None:
    """Overlaid densities of the sorted reference values `ref` and the current values `cur`."""
    density = numeric_density(ref, cur)
    if density is None:
        ax.text(0.5, 0.5, "no values on one side", ha="center", va="center")
        return
    edges, ref_density, cur_density = density
    for values, label, color in (
        (ref_density, "reference", REFERENCE_COLOR),
        (cur_density, "current", CURRENT_COLOR),
    ):
        ax.stairs(values, edges, fill=True, alpha=0.45, color=color, label=label)
    ax.set_ylabel("density", fontsize=8)


def _draw_categorical(ax: Axes, ref: dict[str, int], cur: dict[str, int]) -> None:
    labels, ref_props, cur_props = category_shares(ref, cur)
    x = np.arange(len(labels))
    ax.bar(x - 0.2, ref_props, width=0.4, color=REFERENCE_COLOR, label="reference")
    ax.bar(x + 0.2, cur_props, width=0.4, color=CURRENT_COLOR, label="current")
    ax.set_xticks(x, [label[:14] for label in labels], rotation=45, ha="right")
    ax.set_ylabel("proportion", fontsize=8)


def png_base64(fig: Figure) -> str:
    """The PNG of `fig` as base64 text, for an inline `<img>`."""
    return base64.b64encode(png_bytes(fig)).decode("ascii")
