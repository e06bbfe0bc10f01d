"""The page's reference-vs-current charts as inline SVG shapes, drawn by the Jinja2 template.

Matplotlib spent more time drawing twenty charts (text layout, PNG encoding) than the drift
statistics took; the page needs only bars, so each chart is a list of rectangles and labels the
template writes as SVG. The data are those of `charts`: the same bins, densities and category
shares (`numeric_density`, `category_shares`); `plot_top_drifted` (the PNG in the Dagster
metadata) stays a matplotlib figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from churn_assets.ml.drift import stats as ds
from churn_assets.ml.drift.charts import (
    CURRENT_COLOR,
    REFERENCE_COLOR,
    category_shares,
    finite_values,
    numeric_density,
)
from churn_assets.ml.drift.reference import ColumnReference
from churn_assets.ml.drift.report import ColumnDrift

WIDTH, HEIGHT = 384, 240
LEFT, RIGHT, TOP, BOTTOM = 46, 8, 26, 64  # plot area margins (room for rotated category labels)
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    color: str


@dataclass
class SvgChart:
    """One chart: title (red when drifted), bars, x labels and the y axis' top value."""

    name: str
    title: str
    drifted: bool
    ylabel: str
    ymax: str = ""
    bars: list[Bar] = field(default_factory=list)
    xlabels: list[tuple[float, str]] = field(default_factory=list)
    rotate: bool = False
    note: str = ""


def svg_chart(ref: ColumnReference, series: pd.Series, result: ColumnDrift | None) -> SvgChart:
    """The chart of one column, with the data `charts.draw` plots."""
    title, drifted = ref.column, bool(result and result.drifted)
    if result is not None and result.tested:
        flag = "DRIFT" if result.drifted else "no drift"
        title = f"{ref.column}: {flag} ({result.test} {result.statistic:.3g})"
    if ref.values is not None:
        cur = finite_values(series, ref.column)
        few = ds.n_distinct_sorted(ref.values, 12) <= 12 and len(pd.unique(cur)) <= 12
        if not few:
            chart = SvgChart(ref.column, title, drifted, "density")
            density = numeric_density(ref.values, cur)
            if density is None:
                chart.note = "no values on one side"
            else:
                _histogram(chart, *density)
            return chart
        cur.sort()
        shares = category_shares(ds.sorted_value_counts(ref.values), ds.sorted_value_counts(cur))
    else:
        shares = category_shares(ref.counts or {}, ds.value_counts(series))
    chart = SvgChart(ref.column, title, drifted, "proportion", rotate=True)
    _grouped_bars(chart, *shares)
    return chart


def _y(value: float, top: float) -> float:
    return TOP + PLOT_H * (1.0 - value / top) if top > 0 else TOP + PLOT_H


def _histogram(chart: SvgChart, edges, ref_density, cur_density) -> None:
    top = float(max(ref_density.max(), cur_density.max())) or 1.0
    span = float(edges[-1] - edges[0]) or 1.0
    for values, color in ((ref_density, REFERENCE_COLOR), (cur_density, CURRENT_COLOR)):
        for left, right, v in zip(edges[:-1], edges[1:], values, strict=True):
            x = LEFT + PLOT_W * (left - edges[0]) / span
            w = PLOT_W * (right - left) / span
            y = _y(float(v), top)
            chart.bars.append(Bar(x, y, w, TOP + PLOT_H - y, color))
    chart.ymax = f"{top:.3g}"
    for value in (edges[0], (edges[0] + edges[-1]) / 2, edges[-1]):
        chart.xlabels.append((LEFT + PLOT_W * (value - edges[0]) / span, f"{value:.4g}"))


def _grouped_bars(chart: SvgChart, labels, ref_props, cur_props) -> None:
    top = max([*ref_props, *cur_props, 0.0]) or 1.0
    slot = PLOT_W / max(len(labels), 1)
    for i, label in enumerate(labels):
        center = LEFT + slot * (i + 0.5)
        for offset, value, color in (
            (-0.2, ref_props[i], REFERENCE_COLOR),
            (0.2, cur_props[i], CURRENT_COLOR),
        ):
            y = _y(float(value), top)
            x = center + slot * (offset - 0.2)
            chart.bars.append(Bar(x, y, slot * 0.4, TOP + PLOT_H - y, color))
        chart.xlabels.append((center, str(label)[:14]))
    chart.ymax = f"{top:.3g}"
