"""A `DriftReport` as one standalone HTML page, rendered from a Jinja2 template.

The template (`templates/drift_report.html.j2`, package data) needs no external asset: styles
are inline and every chart is inline SVG (see `svg`). Every value is HTML-escaped.
"""

from __future__ import annotations

import math
from functools import cache

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from churn_assets.ml.drift.reference import DriftReference
from churn_assets.ml.drift.report import DriftReport
from churn_assets.ml.drift.svg import HEIGHT, LEFT, PLOT_H, PLOT_W, TOP, WIDTH, svg_chart

TEMPLATE = "drift_report.html.j2"


def g3(value: float | None) -> str:
    """Three significant digits, or an empty cell for a missing or non-finite value."""
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.3g}"


@cache
def _template() -> Template:
    env = Environment(
        loader=PackageLoader("churn_assets.ml.drift", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["g3"] = g3
    return env.get_template(TEMPLATE)


def render_html(
    reference: DriftReference, current: pd.DataFrame, report: DriftReport, title: str
) -> str:
    """Render the report as one standalone HTML page.

    Takes the reference and current data the report was computed from, the report and a page title.
    Returns the HTML text: a summary (dataset drift, share, counts), a table with one row per result
    (drifted rows highlighted) and a reference-vs-current chart per column present in both. Raises
    `ValueError` when a numeric column of `current` is not numeric.
    """
    by_column = {(c.column, c.kind): c for c in report.columns}
    charts = [
        svg_chart(ref, current[name], by_column.get((name, ref.kind)))
        for name, ref in reference.columns.items()
        if name in current.columns
    ]
    return _template().render(
        title=title,
        report=report,
        reference_rows=max((ref.n_rows for ref in reference.columns.values()), default=0),
        current_rows=len(current),
        charts=charts,
        box={"width": WIDTH, "height": HEIGHT, "left": LEFT, "top": TOP, "w": PLOT_W, "h": PLOT_H},
    )
