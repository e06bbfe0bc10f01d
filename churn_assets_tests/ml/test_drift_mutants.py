"""The drift statistics against scipy/numpy and their definitions, exactly (README "Reliability:
faults and mutation testing"): each helper of `ml/drift/stats.py` on small inputs with ties,
repeated values and empty bins, and every error message."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from churn_assets.ml.drift import DriftConfig, build_reference, compute_drift
from churn_assets.ml.drift import stats as drift_stats
from churn_assets.ml.drift.stats import (
    bin_proportions,
    categorical_stats,
    category_key,
    ks_pvalue,
    ks_wasserstein_sorted,
    n_distinct_sorted,
    numeric_stats,
    psi,
    quantile_edges,
    sorted_finite,
    sorted_quantile,
    sorted_value_counts,
    value_counts,
)

REF = np.sort(np.array([1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 5.0, 8.0, 9.5, 12.0]))
CUR = np.sort(np.array([2.0, 3.0, 3.0, 5.0, 7.0, 9.5, 13.0]))


def test_sorted_finite_drops_nan_and_infinities_and_sorts():
    got = sorted_finite(pd.Series([3.0, np.nan, -np.inf, 1.0, np.inf, 2.0]))
    assert got.tolist() == [1.0, 2.0, 3.0] and got.dtype == np.float64


@pytest.mark.parametrize("q", [0.0, 0.1, 0.25, 0.5, 0.77, 0.9, 1.0])
def test_sorted_quantile_is_numpys_linear_quantile(q):
    assert sorted_quantile(REF, q) == np.quantile(REF, q)
    assert sorted_quantile(np.array([4.0]), q) == 4.0


def test_quantile_edges_are_the_distinct_inner_quantiles():
    assert (
        quantile_edges(REF, 4).tolist() == np.unique(np.quantile(REF, [0.25, 0.5, 0.75])).tolist()
    )
    assert quantile_edges(np.array([1.0, 1.0, 1.0, 2.0]), 4).tolist() == [1.0, 1.25]
    assert quantile_edges(np.array([]), 5).size == 0
    assert quantile_edges(REF, 2).tolist() == [5.0]
    with pytest.raises(ValueError, match=r"^psi_bins must be at least 2, got 1$"):
        quantile_edges(REF, 1)


def test_bin_proportions_count_right_closed_bins():
    edges = np.array([2.0, 5.0])  # (-inf, 2], (2, 5], (5, inf)
    assert bin_proportions(REF, edges).tolist() == [0.3, 0.4, 0.3]
    assert bin_proportions(np.array([]), edges).tolist() == [0.0, 0.0, 0.0]


def test_psi_is_its_formula_with_empty_bins_raised_to_epsilon():
    r, c = np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.5, 0.25])
    rr, cc = np.array([0.5, 0.5, 1e-4]), c
    assert psi(r, c) == pytest.approx(float(np.sum((cc - rr) * np.log(cc / rr))), rel=1e-12)
    e = 1e-3
    rr = np.array([0.5, 0.5, e])
    assert psi(r, c, epsilon=e) == pytest.approx(float(np.sum((c - rr) * np.log(c / rr))))
    assert psi(c, c) == 0.0


def test_ks_and_wasserstein_equal_scipys_with_ties():
    ks, w = ks_wasserstein_sorted(REF, CUR)
    assert ks == stats.ks_2samp(REF, CUR).statistic
    assert w == pytest.approx(stats.wasserstein_distance(REF, CUR), rel=1e-12)
    tie_ref, tie_cur = np.array([1.0, 1.0, 2.0]), np.array([1.0, 2.0, 2.0])
    assert ks_wasserstein_sorted(tie_ref, tie_cur)[0] == pytest.approx(1 / 3)
    assert ks_wasserstein_sorted(np.array([1.0]), np.array([1.0])) == (0.0, 0.0)
    with pytest.raises(ValueError, match="^KS and Wasserstein need at least one value on each"):
        ks_wasserstein_sorted(REF, np.array([]))
    with pytest.raises(ValueError, match="^KS and Wasserstein need at least one value on each"):
        ks_wasserstein_sorted(np.array([]), CUR)


def test_ks_pvalue_methods_equal_scipys(monkeypatch):
    d = stats.ks_2samp(REF, CUR).statistic
    exact = stats.ks_2samp(REF, CUR, method="exact").pvalue
    asymp = stats.ks_2samp(REF, CUR, method="asymp").pvalue
    assert ks_pvalue(d, REF, CUR) == (exact, "exact")
    assert ks_pvalue(d, REF, CUR, "exact") == (exact, "exact")
    got, used = ks_pvalue(d, REF, CUR, "asymp")
    assert used == "asymp" and got == pytest.approx(asymp, rel=1e-12)
    got, used = ks_pvalue(d, CUR, REF, "asymp")  # either order: the same effective size
    assert used == "asymp" and got == pytest.approx(asymp, rel=1e-12)
    monkeypatch.setattr(drift_stats, "KS_EXACT_MAX_N", 10)  # auto: exact up to the limit
    assert ks_pvalue(d, REF, CUR)[1] == "exact"
    monkeypatch.setattr(drift_stats, "KS_EXACT_MAX_N", 9)
    assert ks_pvalue(d, REF, CUR)[1] == "asymp"
    with pytest.raises(ValueError) as raised:
        ks_pvalue(d, REF, CUR, "fast")
    assert str(raised.value) == "ks_method must be 'auto', 'exact' or 'asymp', got 'fast'"


def test_the_asymptotic_p_value_is_clipped_to_0_1():
    assert ks_pvalue(0.0, REF, CUR, "asymp") == (1.0, "asymp")
    assert ks_pvalue(1.0, REF, CUR, "asymp")[0] == pytest.approx(
        stats.kstwo.sf(1.0, round(10 * 7 / 17))
    )


def test_numeric_stats_are_the_pieces_with_the_normalised_distance():
    edges = quantile_edges(REF, 4)
    got = numeric_stats(REF, CUR, ref_std=2.0, psi_edges=edges, psi_epsilon=1e-3)
    ks, w = ks_wasserstein_sorted(REF, CUR)
    assert got == {
        "ks_statistic": ks,
        "ks_p_value": ks_pvalue(ks, REF, CUR)[0],
        "ks_method": "exact",
        "wasserstein": w,
        "wasserstein_normed": w / 2.0,
        "psi": psi(bin_proportions(REF, edges), bin_proportions(CUR, edges), 1e-3),
    }
    tiny = numeric_stats(REF, CUR, ref_std=0.0, psi_edges=edges, ks_method="asymp")
    assert tiny["wasserstein_normed"] == w / 0.001 and tiny["ks_method"] == "asymp"
    assert tiny["psi"] == psi(bin_proportions(REF, edges), bin_proportions(CUR, edges), 1e-4)


def test_categorical_stats_equal_scipys_without_yates_correction():
    ref, cur = {"a": 30, "b": 10, "c": 5}, {"a": 20, "b": 20, "d": 4}
    got = categorical_stats(ref, cur, psi_epsilon=1e-3)
    table = np.array([[30, 10, 5, 0], [20, 20, 0, 4]], dtype=float)
    expected = stats.chi2_contingency(table, correction=False)
    props = table / table.sum(axis=1)[:, None]
    assert got == {
        "chi2_statistic": pytest.approx(expected.statistic, rel=1e-12),
        "chi2_p_value": pytest.approx(expected.pvalue, rel=1e-12),
        "chi2_dof": 3,
        "jensenshannon": pytest.approx(distance.jensenshannon(props[0], props[1]), rel=1e-12),
        "psi": pytest.approx(psi(props[0], props[1], 1e-3), rel=1e-12),
    }
    two = categorical_stats({"x": 10, "y": 0}, {"x": 3, "y": 7})
    assert two["chi2_dof"] == 1
    assert two["chi2_statistic"] == pytest.approx(
        stats.chi2_contingency(np.array([[10, 0], [3, 7]]), correction=False).statistic
    )
    same = categorical_stats({"x": 5, "z": 0}, {"x": 9})
    assert (same["chi2_statistic"], same["chi2_p_value"], same["chi2_dof"]) == (0.0, 1.0, 0)
    assert same["jensenshannon"] == 0.0 and same["psi"] == 0.0
    for left, right in (({}, {"x": 1}), ({"x": 1}, {"x": 0})):
        with pytest.raises(ValueError) as raised:
            categorical_stats(left, right)
        assert str(raised.value) == "categorical drift needs at least one value on each side"


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (True, "True"),
        (np.bool_(False), "False"),
        (1.0, "1"),
        (np.float32(2.0), "2"),
        (2.5, "2.5"),
        (float("inf"), "inf"),
        (float("nan"), "nan"),
        (3, "3"),
        (np.int64(4), "4"),
        ("1", "1"),
        ("basic", "basic"),
    ],
)
def test_category_keys_make_1_1point0_and_text_1_the_same(value, key):
    assert category_key(value) == key


def test_value_counts_merge_equal_keys_and_skip_missing():
    series = pd.Series([1, 1.0, "1", "a", None, "a", np.nan], dtype=object)
    assert value_counts(series) == {"1": 3, "a": 2}
    assert value_counts(pd.Series(["x"], dtype="category").cat.add_categories(["y"])) == {"x": 1}


def test_sorted_value_counts_and_distinct_counts():
    assert sorted_value_counts(REF) == {"1": 1, "2": 2, "3": 1, "5": 3, "8": 1, "9.5": 1, "12": 1}
    assert sorted_value_counts(np.array([])) == {}
    assert sorted_value_counts(np.array([7.0])) == {"7": 1}
    assert n_distinct_sorted(REF, 10) == 7
    assert n_distinct_sorted(REF, 7) == 7
    assert n_distinct_sorted(REF, 6) == 7  # capped at limit + 1: "more than 6"
    assert n_distinct_sorted(REF, 3) == 4
    assert n_distinct_sorted(np.array([]), 3) == 0
    assert n_distinct_sorted(np.array([2.0, 2.0]), 3) == 1


def test_the_helpers_compute_in_float64_whatever_the_input_dtype():
    got = sorted_finite(np.array([3, 1, 2]))
    assert got.tolist() == [1.0, 2.0, 3.0] and got.dtype == np.float64
    low_precision = np.array([0.1, 0.7], dtype=np.float32)
    assert sorted_quantile(low_precision, 0.3) == np.quantile(low_precision.astype(float), 0.3)
    # float32 shares with empty bins: epsilon is 1e-4 itself, not its float32 rounding
    ref, cur = np.array([0.0, 0.5, 0.5], np.float32), np.array([0.5, 0.5, 0.0], np.float32)
    assert psi(ref, cur) == psi(ref.astype(float), cur.astype(float))
    assert psi(ref.astype(float), cur) == psi(ref, cur.astype(float)) == psi(ref, cur)


def test_one_value_is_a_whole_bin():
    assert bin_proportions(np.array([5.0]), np.array([3.0, 7.0])).tolist() == [0.0, 1.0, 0.0]


def test_the_exact_method_stays_exact_above_the_auto_limit():
    rng = np.random.default_rng(0)
    ref, cur = np.sort(rng.normal(size=10_001)), np.sort(rng.normal(0.3, 1.0, size=4))
    d = stats.ks_2samp(ref, cur).statistic
    exact = stats.ks_2samp(ref, cur, method="exact").pvalue
    assert exact != stats.ks_2samp(ref, cur).pvalue  # scipy's auto would not be exact here
    assert ks_pvalue(d, ref, cur, "exact") == (exact, "exact")


def test_categorical_stats_default_epsilon_single_counts_and_one_sided_input():
    ref, cur = {"a": 3, "b": 1}, {"a": 2}
    table = np.array([[3.0, 1.0], [2.0, 0.0]])
    props = table / table.sum(axis=1)[:, None]
    got = categorical_stats(ref, cur)  # default epsilon 1e-4; category b seen once
    assert got["chi2_dof"] == 1
    assert got["chi2_statistic"] == pytest.approx(
        stats.chi2_contingency(table, correction=False).statistic, rel=1e-12
    )
    assert got["psi"] == pytest.approx(psi(props[0], props[1], 1e-4), rel=1e-12)
    with pytest.raises(ValueError) as raised:
        categorical_stats({}, {"x": 2, "y": 5})
    assert str(raised.value) == "categorical drift needs at least one value on each side"


def test_value_counts_keep_the_order_values_first_appear_in():
    counts = value_counts(pd.Series(["a", "b", "b", "c", "c", "c"], dtype=object))
    assert list(counts.items()) == [("a", 1), ("b", 2), ("c", 3)]


def _drift_frames():
    """40 reference rows; a current batch where x shifts, c keeps its shares, and y (numeric,
    continuous) has 6 missing values; the score is absent from the batch."""
    rng = np.random.default_rng(7)
    ref = pd.DataFrame(
        {
            "x": rng.normal(0, 1, 40),
            "y": rng.normal(0, 1, 40),
            "c": np.repeat(["a", "b"], 20),
            "score": rng.random(40),
            "label": np.tile([0, 1], 20),
        }
    )
    cur = pd.DataFrame(
        {
            "x": rng.normal(3, 1, 36),
            "y": np.concatenate([rng.normal(0, 1, 30), [np.nan] * 6]),
            "c": np.repeat(["a", "b"], 18),
            "label": np.tile([0, 1], 18),
        }
    )
    reference = build_reference(ref, ["x", "y"], ["c"], score_column="score", target_column="label")
    return ref, cur, reference


def _expected_message(test, p_or_stat, threshold, drifted, label="p"):
    if test in ("ks", "chi2"):
        relation = "<" if drifted else ">="
        text = f"{test} {label}={p_or_stat:.3g} {relation} alpha {threshold}"
    else:
        relation = ">=" if drifted else "<"
        text = f"{test} {p_or_stat:.3g} {relation} threshold {threshold}"
    return text + (": drift" if drifted else ": no drift")


@pytest.mark.parametrize("correction", ["none", "bh"])
def test_compute_drift_rows_decisions_and_messages_are_exact(correction):
    _, cur, reference = _drift_frames()
    config = DriftConfig(multiple_testing=correction)
    report = compute_drift(reference, cur, config)
    got = [(r.column, r.kind, r.tested, r.test) for r in report.columns]
    assert got == [
        ("x", "numeric", True, "ks"),
        ("x", "missing", True, "chi2"),
        ("y", "numeric", True, "ks"),
        ("y", "missing", True, "chi2"),
        ("c", "categorical", True, "chi2"),
        ("c", "missing", True, "chi2"),
        ("score", "prediction", False, None),
        ("label", "target", True, "chi2"),
    ]
    rows = {(r.column, r.kind): r for r in report.columns}
    assert rows["score", "prediction"].message == "column absent from current data"
    assert (rows["score", "prediction"].n_reference, rows["score", "prediction"].n_current) == (
        40,
        0,
    )
    assert (rows["y", "missing"].n_reference, rows["y", "missing"].n_current) == (40, 36)
    assert rows["y", "missing"].all_stats["missing_share_current"] == 6 / 36
    assert rows["y", "numeric"].n_current == 30
    tested = [r for r in report.columns if r.tested]
    # one category on both sides (no missing value anywhere): left out of the BH family
    family = [r for r in tested if r.all_stats.get("chi2_dof") != 0]
    assert [(r.column, r.kind) for r in family] == [
        ("x", "numeric"), ("y", "numeric"), ("y", "missing"), ("c", "categorical"),
        ("label", "target"),
    ]  # fmt: skip
    adjusted = dict.fromkeys(map(id, tested), 1.0)
    bh = stats.false_discovery_control([r.p_value for r in family])
    adjusted.update(zip(map(id, family), bh, strict=True))
    for row in tested:
        assert row.p_value_adjusted == adjusted[id(row)]
        p = row.p_value_adjusted if correction == "bh" else row.p_value
        label = "BH-adjusted p" if correction == "bh" else "p"
        assert row.drifted is bool(p < 0.05)
        assert row.message == _expected_message(row.test, p, 0.05, row.drifted, label)
    drifted = {(r.column, r.kind) for r in tested if r.drifted}
    assert ("x", "numeric") in drifted and ("c", "categorical") not in drifted
    features = [r for r in tested if r.kind in ("numeric", "categorical")]
    assert (report.n_tested, report.n_drifted) == (3, sum(r.drifted for r in features))
    assert report.drift_share == report.n_drifted / 3
    assert report.dataset_drift is (report.drift_share >= 0.5)
    assert report.config == {**DriftConfig(multiple_testing=correction).__dict__}


def test_distance_decisions_include_the_threshold_and_say_so():
    _, cur, reference = _drift_frames()
    methods = {"x": "wasserstein"}
    statistic = compute_drift(reference, cur, DriftConfig(column_methods=methods)).columns[0]
    for threshold, drifted in ((statistic.statistic, True), (statistic.statistic * 1.001, False)):
        config = DriftConfig(column_methods=methods, wasserstein_threshold=threshold)
        row = compute_drift(reference, cur, config).columns[0]
        assert (row.test, row.drifted) == ("wasserstein", drifted)
        assert row.message == _expected_message("wasserstein", row.statistic, threshold, drifted)


def test_a_feature_absent_from_the_batch_is_an_error_naming_it():
    _, cur, reference = _drift_frames()
    with pytest.raises(ValueError) as raised:
        compute_drift(reference, cur.drop(columns=["y", "c"]))
    assert str(raised.value) == (
        "the current data lacks feature columns ['y', 'c'] that the drift reference has; "
        "score the batch with the same feature columns or rebuild the reference"
    )


def test_no_tested_feature_means_no_dataset_drift():
    _, cur, reference = _drift_frames()
    report = compute_drift(reference, cur.head(10))  # under min_rows: nothing tested
    assert (report.n_tested, report.n_drifted, report.drift_share) == (0, 0, 0.0)
    assert report.dataset_drift is False
    assert all(r.p_value_adjusted is None for r in report.columns)


def test_a_text_column_in_the_batch_where_numbers_belong_is_named():
    _, cur, reference = _drift_frames()
    with pytest.raises(ValueError) as raised:
        compute_drift(reference, cur.assign(y=cur["y"].astype(str)))
    assert str(raised.value) == (
        "column 'y' in the current data has dtype object, not numeric; "
        "declare it categorical or convert it to numbers"
    )


def test_a_p_value_equal_to_alpha_is_not_drift():
    _, cur, reference = _drift_frames()
    p = compute_drift(reference, cur).columns[2].p_value  # y, numeric: KS p-value
    row = compute_drift(reference, cur, DriftConfig(alpha=p)).columns[2]
    assert (row.column, row.test, row.p_value, row.drifted) == ("y", "ks", p, False)
    assert row.message == f"ks p={p:.3g} >= alpha {p}: no drift"
