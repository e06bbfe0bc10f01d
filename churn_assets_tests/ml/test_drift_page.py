"""The drift page is rendered from the packaged Jinja2 template with every value escaped."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pandas as pd

from churn_assets.ml.drift import DriftConfig, build_reference, compute_drift
from churn_assets.ml.drift.page import TEMPLATE, g3, render_html


def _data() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame(
        {"x": rng.normal(0, 1, 400), "c<b>": rng.choice(["a", "b"], 400), "flat": 1.0}
    )
    cur = pd.DataFrame(
        {"x": rng.normal(1.5, 1, 300), "c<b>": rng.choice(["a", "b"], 300), "flat": 1.0}
    )
    return ref, cur


def test_template_ships_as_package_data():
    template = resources.files("churn_assets.ml.drift").joinpath("templates", TEMPLATE)
    assert "{{ title }}" in template.read_text()


def test_page_lists_every_result_and_escapes_names():
    ref_df, cur_df = _data()
    reference = build_reference(ref_df, ["x", "flat"], ["c<b>"])
    report = compute_drift(reference, cur_df, DriftConfig())
    page = render_html(reference, cur_df, report, title="Batch <1> & 'q'")
    assert "<title>Batch &lt;1&gt; &amp; &#39;q&#39;</title>" in page
    assert "c<b>" not in page and "c&lt;b&gt;" in page
    rows = re.findall(r'<tr class="([^"]*)"><td class="name">([^<]*)</td>', page)
    assert [name for _, name in rows] == [
        c.column.replace("<", "&lt;").replace(">", "&gt;") for c in report.columns
    ]
    drifted = {c.column for c in report.columns if c.drifted}
    assert "x" in drifted
    assert ("drift", "x") in rows
    summary = re.search(r'<p class="summary">(.*?)</p>', page, re.S).group(1)
    assert f"{report.n_drifted} of {report.n_tested} tested feature columns" in summary
    assert "Reference 400 rows, current 300 rows" in summary
    assert page.count('<svg class="chart"') == 3 and "data:image/png" not in page


def test_g3_leaves_missing_and_infinite_cells_empty():
    assert g3(None) == "" and g3(float("nan")) == "" and g3(float("inf")) == ""
    assert g3(0.012345) == "0.0123"


def test_sorted_quantile_is_numpys_quantile():
    from churn_assets.ml.drift.stats import sorted_quantile

    rng = np.random.default_rng(4)
    for n in (1, 2, 3, 999, 1000, 4321):
        values = np.sort(rng.normal(0, 1e3, n))
        for q in (0.0, 0.005, 0.5, 0.995, 1.0, *rng.random(5)):
            assert sorted_quantile(values, q) == np.quantile(values, q)


def test_chart_bins_count_unsorted_current_values_as_sorted_ones_did():
    from churn_assets.ml.drift.charts import bin_counts

    rng = np.random.default_rng(5)
    ref = np.sort(rng.integers(0, 50, 5000).astype(float))
    cur = rng.integers(-5, 60, 4000).astype(float)  # values on the edges and outside them
    edges = np.linspace(3.0, 45.0, 31)
    sorted_cur = np.sort(cur)

    def by_searchsorted(values):
        counts = np.diff(np.searchsorted(values, edges, side="left"))
        counts[-1] += np.searchsorted(values, edges[-1], side="right") - np.searchsorted(
            values, edges[-1]
        )
        return counts

    got_ref, got_cur = bin_counts(ref, cur, edges)
    np.testing.assert_array_equal(got_ref, by_searchsorted(ref))
    np.testing.assert_array_equal(got_cur, by_searchsorted(sorted_cur))
    assert got_cur[-1] > 0 and got_cur.sum() < len(cur)


def test_svg_charts_draw_the_densities_and_shares_of_the_data():
    from churn_assets.ml.drift.charts import category_shares, numeric_density
    from churn_assets.ml.drift.svg import PLOT_H, TOP, svg_chart

    ref_df, cur_df = _data()
    reference = build_reference(ref_df, ["x", "flat"], ["c<b>"])
    report = compute_drift(reference, cur_df, DriftConfig())
    by_name = {c.column: c for c in report.columns if c.kind in ("numeric", "categorical")}
    x = svg_chart(reference.columns["x"], cur_df["x"], by_name["x"])
    assert x.drifted and x.title.startswith("x: DRIFT") and x.ylabel == "density"
    edges, ref_density, cur_density = numeric_density(
        reference.columns["x"].values, cur_df["x"].to_numpy()
    )
    top = max(ref_density.max(), cur_density.max())
    heights = [b.h for b in x.bars]
    expected = [PLOT_H * v / top for v in [*ref_density, *cur_density]]
    np.testing.assert_allclose(heights, expected, atol=1e-9)
    assert all(abs(b.y + b.h - (TOP + PLOT_H)) < 1e-9 for b in x.bars)  # bars stand on the axis
    cat = svg_chart(reference.columns["c<b>"], cur_df["c<b>"], by_name["c<b>"])
    labels, ref_props, cur_props = category_shares(
        reference.columns["c<b>"].counts,
        {"a": int((cur_df["c<b>"] == "a").sum()), "b": int((cur_df["c<b>"] == "b").sum())},
    )
    assert [label for _, label in cat.xlabels] == labels and cat.rotate
    assert len(cat.bars) == 2 * len(labels)
