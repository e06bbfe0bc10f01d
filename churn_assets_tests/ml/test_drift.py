"""Tests of the drift layer: exactness against scipy, calibration by simulation, power, reports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from churn_assets.ml.drift import (
    DriftConfig,
    DriftReference,
    build_reference,
    compute_drift,
)
from churn_assets.ml.drift import stats as ds
from churn_assets.ml.drift.charts import plot_top_drifted
from churn_assets.ml.drift.page import render_html

CATEGORIES = np.array(["a", "b", "c", "d"])
PROBS = np.array([0.4, 0.3, 0.2, 0.1])
SHIFTED_PROBS = np.array([0.2, 0.3, 0.2, 0.3])


def _frame(
    rng: np.random.Generator,
    n: int,
    n_numeric: int = 2,
    n_categorical: int = 2,
    shift: float = 0.0,
    probs: np.ndarray = PROBS,
) -> pd.DataFrame:
    data = {f"x{i}": rng.normal(shift, 1.0, n) for i in range(n_numeric)}
    data.update({f"c{i}": rng.choice(CATEGORIES, n, p=probs) for i in range(n_categorical)})
    return pd.DataFrame(data)


def _names(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    return [c for c in df if c.startswith("x")], [c for c in df if c.startswith("c")]


def _reference(df: pd.DataFrame, **kwargs) -> DriftReference:
    numeric, categorical = _names(df)
    return build_reference(df, numeric, categorical, **kwargs)


def _by(report, kind: str) -> dict:
    return {c.column: c for c in report.columns if c.kind == kind}


def _binomial_interval(n: int, p: float = 0.05, level: float = 0.999) -> tuple[float, float]:
    tail = (1 - level) / 2
    return stats.binom.ppf(tail, n, p) / n, stats.binom.ppf(1 - tail, n, p) / n


# (a) exactness of the pre-sorted KS and Wasserstein against scipy


@pytest.mark.parametrize(
    ("n1", "n2", "ties"),
    [(200, 200, False), (500, 173, False), (300, 300, True), (20_000, 15_000, False)],
)
def test_sorted_ks_and_wasserstein_equal_scipy(n1: int, n2: int, ties: bool) -> None:
    rng = np.random.default_rng(n1 + n2)
    a, b = rng.normal(0, 1, n1), rng.normal(0.05, 1.1, n2)
    if ties:
        a, b = np.round(a * 3), np.round(b * 3)
    ref, cur = ds.sorted_finite(a), ds.sorted_finite(b)
    ks, wasserstein = ds.ks_wasserstein_sorted(ref, cur)
    asymp = stats.ks_2samp(a, b, method="asymp")
    assert ks == asymp.statistic
    assert ds.ks_pvalue(ks, ref, cur, "asymp") == (pytest.approx(asymp.pvalue, rel=1e-12), "asymp")
    assert wasserstein == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-10)
    if max(n1, n2) <= ds.KS_EXACT_MAX_N:
        exact = stats.ks_2samp(a, b, method="exact").pvalue
        assert ds.ks_pvalue(ks, ref, cur, "auto") == (pytest.approx(exact, rel=1e-12), "exact")
    else:
        assert ds.ks_pvalue(ks, ref, cur, "auto")[1] == "asymp"


# (b) calibration: undrifted data is flagged at the nominal rate


def test_p_value_tests_flag_undrifted_columns_at_nominal_rate() -> None:
    """400 repetitions x 5 numeric and 5 categorical columns = 2000 tests of each kind.

    Reference 500 rows, current 200 rows, so auto picks KS (exact p-values) and chi-squared. The
    exact KS test is never liberal; at 500 vs 200 its attainable size is 0.0489, close to nominal
    (at equal sizes the lattice of D values makes it conservative, e.g. 0.040 at 200 vs 200).
    """
    rng = np.random.default_rng(20240501)
    reps, n_cols = 400, 5
    flagged = {"ks": 0, "chi2": 0, "goodness_of_fit": 0}
    for _ in range(reps):
        ref_df = _frame(rng, 500, n_cols, n_cols)
        cur_df = _frame(rng, 200, n_cols, n_cols)
        report = compute_drift(_reference(ref_df), cur_df)
        for row in report.columns:
            if row.kind in ("numeric", "categorical"):
                assert row.tested
                flagged[row.test] += row.drifted
        # The goodness-of-fit variant treats reference proportions as exact and over-flags.
        for i in range(n_cols):
            ref_counts = ref_df[f"c{i}"].value_counts().reindex(CATEGORIES, fill_value=0)
            cur_counts = cur_df[f"c{i}"].value_counts().reindex(CATEGORIES, fill_value=0)
            expected = ref_counts.to_numpy() / ref_counts.sum() * cur_counts.sum()
            p = stats.chisquare(cur_counts.to_numpy(), f_exp=expected).pvalue
            flagged["goodness_of_fit"] += p < 0.05
    n_tests = reps * n_cols
    low, high = _binomial_interval(n_tests)
    rates = {name: count / n_tests for name, count in flagged.items()}
    assert low <= rates["ks"] <= high, rates
    assert low <= rates["chi2"] <= high, rates
    assert rates["goodness_of_fit"] > high, rates


# (c) real shifts are flagged with small and large samples; (d) large undrifted samples are not


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "numeric_test", "categorical_test"),
    [(500, 200, "ks", "chi2"), (20_000, 5_000, "wasserstein", "jensenshannon")],
)
def test_shifted_columns_are_flagged(
    n_ref: int, n_cur: int, numeric_test: str, categorical_test: str
) -> None:
    rng = np.random.default_rng(7)
    ref_df = _frame(rng, n_ref)
    cur_df = _frame(rng, n_cur, shift=0.5, probs=SHIFTED_PROBS)
    report = compute_drift(_reference(ref_df), cur_df)
    numeric, categorical = _by(report, "numeric"), _by(report, "categorical")
    assert {c.test for c in numeric.values()} == {numeric_test}
    assert {c.test for c in categorical.values()} == {categorical_test}
    assert all(c.drifted for c in [*numeric.values(), *categorical.values()])
    assert report.dataset_drift and report.drift_share == 1.0
    # Every statistic of the family is reported whichever test decides.
    assert {"ks_statistic", "ks_p_value", "wasserstein_normed", "psi"} <= set(
        numeric["x0"].all_stats
    )
    assert {"chi2_p_value", "jensenshannon", "psi"} <= set(categorical["c0"].all_stats)
    assert numeric["x0"].all_stats["psi"] > DriftConfig().psi_threshold


def test_large_undrifted_samples_are_not_flagged_by_distances() -> None:
    rng = np.random.default_rng(11)
    ref_df, cur_df = _frame(rng, 20_000, 5, 5), _frame(rng, 5_000, 5, 5)
    report = compute_drift(_reference(ref_df), cur_df)
    features = [c for c in report.columns if c.kind in ("numeric", "categorical")]
    assert {c.test for c in features} == {"wasserstein", "jensenshannon"}
    assert report.n_tested == 10 and report.n_drifted == 0 and not report.dataset_drift
    assert max(c.distance for c in features) < 0.05


# (e) dataset drift by share of drifted feature columns


@pytest.mark.parametrize(
    ("n_shifted", "drift_share", "expected"),
    [(2, 0.5, True), (1, 0.5, False), (2, 0.6, False), (3, 0.75, True)],
)
def test_dataset_drift_when_share_reaches_threshold(
    n_shifted: int, drift_share: float, expected: bool
) -> None:
    rng = np.random.default_rng(3)
    ref_df = _frame(rng, 500, 4, 0)
    cur_df = _frame(rng, 200, 4, 0)
    for i in range(n_shifted):
        cur_df[f"x{i}"] += 1.0
    report = compute_drift(_reference(ref_df), cur_df, DriftConfig(drift_share=drift_share))
    assert report.n_tested == 4 and report.n_drifted == n_shifted
    assert report.drift_share == n_shifted / 4
    assert report.dataset_drift is expected


# (f) too few rows


def test_too_few_rows_is_reported_and_not_tested() -> None:
    rng = np.random.default_rng(5)
    ref_df = _frame(rng, 500)
    cur_df = _frame(rng, 12, shift=3.0)
    report = compute_drift(_reference(ref_df), cur_df)
    for row in report.columns:
        assert not row.tested and not row.drifted
        assert row.message.startswith("not enough rows to test (n=12)")
        assert row.p_value is None and row.p_value_adjusted is None
    assert report.n_tested == 0 and report.drift_share == 0.0 and not report.dataset_drift


# (g) missing-value drift


@pytest.mark.parametrize(("n_ref", "test"), [(500, "chi2"), (5_000, "jensenshannon")])
def test_missing_value_drift_is_detected(n_ref: int, test: str) -> None:
    rng = np.random.default_rng(9)
    ref_df, cur_df = _frame(rng, n_ref), _frame(rng, 400)
    ref_df.loc[rng.random(n_ref) < 0.01, "x0"] = np.nan
    cur_df.loc[rng.random(400) < 0.30, "x0"] = np.nan
    cur_df.loc[rng.random(400) < 0.30, "c0"] = None
    report = compute_drift(_reference(ref_df), cur_df)
    missing = _by(report, "missing")
    assert missing["x0"].test == test and missing["x0"].drifted
    assert missing["c0"].drifted
    assert not missing["x1"].drifted and not missing["c1"].drifted
    assert missing["x0"].all_stats["missing_share_current"] > 0.2
    # The values themselves did not drift: NaN is excluded from the value tests.
    assert not _by(report, "numeric")["x0"].drifted
    assert not _by(report, "categorical")["c0"].drifted


# (h) Benjamini-Hochberg


def test_bh_adjusted_p_values_match_scipy_and_drive_the_decision() -> None:
    rng = np.random.default_rng(2)
    ref_df, cur_df = _frame(rng, 500, 10, 10), _frame(rng, 200, 10, 10)
    cur_df["x0"] += 0.35  # a weak shift: significant alone (p=0.005), not among 20 tests
    reference = _reference(ref_df)
    plain = compute_drift(reference, cur_df)
    # No missing values: the missing-value rows cannot reject and stay out of the BH family.
    family = [c for c in plain.columns if c.kind != "missing"]
    assert all(c.p_value_adjusted == 1.0 for c in plain.columns if c.kind == "missing")
    expected = stats.false_discovery_control([c.p_value for c in family], method="bh")
    np.testing.assert_allclose([c.p_value_adjusted for c in family], expected, rtol=1e-12)
    bh = compute_drift(reference, cur_df, DriftConfig(multiple_testing="bh"))
    for raw, adj in zip(plain.columns, bh.columns, strict=True):
        assert raw.drifted == (raw.p_value < 0.05)
        assert adj.drifted == (adj.p_value_adjusted < 0.05)
    assert _by(plain, "numeric")["x0"].drifted and not _by(bh, "numeric")["x0"].drifted


# (i) the reference survives storage


def test_reference_round_trips_through_parquet(tmp_path) -> None:
    rng = np.random.default_rng(4)
    ref_df = _frame(rng, 800)
    ref_df["k"] = rng.integers(0, 3, 800)  # low-cardinality numeric: tested as categories
    ref_df["score"] = rng.uniform(size=800)
    ref_df["churn"] = rng.integers(0, 2, 800)
    ref_df.loc[:20, ["x0", "c0"]] = None
    reference = build_reference(ref_df, ["x0", "x1", "k"], ["c0", "c1"], "score", "churn")
    path = tmp_path / "reference.parquet"
    reference.to_frame().to_parquet(path)
    restored = DriftReference.from_frame(pd.read_parquet(path))
    assert list(restored.columns) == list(reference.columns)
    for name, ref in reference.columns.items():
        back = restored.columns[name]
        assert (back.kind, back.n_missing, back.counts) == (ref.kind, ref.n_missing, ref.counts)
        if ref.values is not None:
            np.testing.assert_array_equal(back.values, ref.values)
            np.testing.assert_array_equal(back.psi_edges, ref.psi_edges)
            assert back.std == ref.std
    cur_df = ref_df.sample(300, random_state=1)
    assert compute_drift(restored, cur_df).to_dict() == compute_drift(reference, cur_df).to_dict()
    assert _by(compute_drift(reference, cur_df), "numeric")["k"].test == "chi2"


def test_stored_reference_is_read_in_place_and_a_reordered_frame_still_loads() -> None:
    rng = np.random.default_rng(7)
    ref_df = _frame(rng, 600)
    reference = build_reference(ref_df, ["x0", "x1"], ["c0", "c1"])
    stored = reference.to_frame()
    restored = DriftReference.from_frame(stored)
    # as stored: the sorted values are a view of the stored column, not a sorted copy
    assert np.shares_memory(restored.columns["x0"].values, stored["value"].to_numpy())
    shuffled = stored.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = DriftReference.from_frame(shuffled)
    assert set(again.columns) == set(reference.columns)
    for name, ref in reference.columns.items():
        back = again.columns[name]
        assert (back.kind, back.n_missing, back.counts) == (ref.kind, ref.n_missing, ref.counts)
        if ref.values is not None:
            np.testing.assert_array_equal(back.values, ref.values)
            np.testing.assert_array_equal(np.sort(back.psi_edges), ref.psi_edges)


# (j) outputs: JSON, frame, HTML, PNG


def test_report_outputs_html_and_png() -> None:
    rng = np.random.default_rng(6)
    ref_df = _frame(rng, 1_500)
    ref_df["score"] = rng.uniform(size=1_500)
    cur_df = _frame(rng, 300, shift=0.6, probs=SHIFTED_PROBS)
    cur_df["score"] = rng.uniform(size=300)
    cur_df.loc[:5, "c1"] = "never seen"
    reference = _reference(ref_df, score_column="score", target_column=None)
    report = compute_drift(reference, cur_df.iloc[:, :3].join(cur_df[["c1", "score"]]))
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert '"dataset_drift": true' in text
    frame = report.to_frame()
    expected = {"feature", "kind", "test", "statistic", "p_value", "distance", "drifted"}
    assert expected <= set(frame.columns)
    assert set(frame["kind"]) == {"numeric", "categorical", "missing", "prediction"}
    page = render_html(reference, cur_df, report, title="Batch <2024-05-01>")
    assert page.startswith("<!DOCTYPE html>") and "Batch &lt;2024-05-01&gt;" in page
    for name in ("x0", "x1", "c0", "c1", "score"):
        assert f"<h3>{name}</h3>" in page
    assert page.count('<svg class="chart"') == 5
    assert "http://" not in page and "https://" not in page
    png = plot_top_drifted(reference, cur_df, report, top_n=2)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


# configuration and input errors


def test_methods_can_be_overridden_per_column() -> None:
    rng = np.random.default_rng(8)
    ref_df, cur_df = _frame(rng, 500), _frame(rng, 200)
    config = DriftConfig(column_methods={"x0": "psi", "c0": "jensenshannon"})
    report = compute_drift(_reference(ref_df), cur_df, config)
    assert _by(report, "numeric")["x0"].test == "psi"
    assert _by(report, "numeric")["x0"].threshold == config.psi_threshold
    assert _by(report, "categorical")["c0"].test == "jensenshannon"
    assert _by(report, "numeric")["x1"].test == "ks"
    with pytest.raises(ValueError, match="needs numeric values"):
        compute_drift(_reference(ref_df), cur_df, DriftConfig(column_methods={"c0": "ks"}))
    with pytest.raises(ValueError, match="unknown drift methods"):
        DriftConfig(method="t-test")  # type: ignore[arg-type]


def test_bad_inputs_raise_with_the_column_named() -> None:
    rng = np.random.default_rng(10)
    ref_df = _frame(rng, 100)
    with pytest.raises(ValueError, match=r"lacks columns \['nope'\]"):
        build_reference(ref_df, ["x0", "nope"], [])
    with pytest.raises(ValueError, match="'c0'.*not numeric"):
        build_reference(ref_df, ["c0"], [])
    with pytest.raises(ValueError, match="lacks feature columns"):
        compute_drift(_reference(ref_df), ref_df.drop(columns="x1"))
