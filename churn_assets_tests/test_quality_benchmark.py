"""The arithmetic of the quality benchmark's repeated outer cross-validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchmarks.quality_cv import corrected_interval, summarise


def test_corrected_interval_is_the_nadeau_bengio_one_and_wider_than_plain_t():
    diffs = np.array([0.010, -0.005, 0.002, 0.000, 0.004])
    low, high = corrected_interval(diffs, test_share=0.2)
    # 5 folds: variance factor 1/5 + 0.2/0.8 = 0.45 instead of the plain 1/5.
    half = stats.t.ppf(0.975, 4) * np.sqrt(0.45 * diffs.var(ddof=1))
    assert (low, high) == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    plain = stats.t.interval(0.95, 4, loc=diffs.mean(), scale=stats.sem(diffs))
    assert low < plain[0] and high > plain[1]


def split(champion: float, baselines: dict[str, float], family: str = "xgboost") -> dict:
    best = max(baselines, key=baselines.get)
    return {
        "champion_test_roc_auc": champion,
        "champion_family": family,
        "baselines": baselines,
        "best_baseline": best,
    }


def test_summary_compares_each_split_with_its_own_best_baseline():
    splits = [
        split(0.92, {"rf": 0.93, "hgb": 0.91}),  # -0.01 against rf
        split(0.94, {"rf": 0.90, "hgb": 0.92}),  # +0.02 against hgb
        split(0.91, {"rf": 0.91, "hgb": 0.90}, "random_forest"),  # 0.00 against rf
        {"error": "timed out after 3600s"},
    ]
    result = summarise(splits, folds=5)
    gap = result["champion_minus_best_baseline"]
    assert gap["per_split"] == pytest.approx([-0.01, 0.02, 0.0])
    assert gap["mean"] == pytest.approx(0.01 / 3)
    assert gap["splits_champion_at_least_baseline"] == 2
    assert result["splits"] == 3 and result["failed"] == 1
    assert result["best_baseline_mean_roc_auc"] == pytest.approx((0.93 + 0.92 + 0.91) / 3)
    assert result["baselines_mean_roc_auc"]["rf"] == pytest.approx((0.93 + 0.90 + 0.91) / 3)
    assert result["champion_families"] == ["xgboost", "xgboost", "random_forest"]
    # Against one fixed baseline: rf on every split (-0.01, +0.04, 0.00), not the best of three.
    assert result["champion_minus_each_baseline"]["rf"]["mean"] == pytest.approx(0.01)
    assert result["champion_minus_each_baseline"]["hgb"]["mean"] == pytest.approx(0.04 / 3)


def test_summary_refuses_to_judge_on_fewer_than_two_splits():
    result = summarise([split(0.9, {"rf": 0.9}), {"error": "boom"}], folds=5)
    assert result == {"error": "1 of 2 outer splits failed"}


def test_summary_gives_the_champions_brier_before_and_after_calibration():
    calibrated = [
        {
            **split(0.92, {"rf": 0.93}),
            "champion_raw_test_roc_auc": auc,
            "champion_brier_raw": raw,
            "champion_brier": after,
            "champion_calibration": {"method": method},
        }
        for auc, raw, after, method in ((0.91, 0.05, 0.04, "isotonic"), (0.93, 0.07, 0.05, "none"))
    ]
    result = summarise(calibrated, folds=5)
    assert result["champion_brier_raw_mean"] == pytest.approx(0.06)
    assert result["champion_brier_mean"] == pytest.approx(0.045)
    assert result["champion_raw_test_roc_auc_mean"] == pytest.approx(0.92)
    assert result["champion_calibration"] == ["isotonic", "none"]
    # Split records without the figures (before calibration existed): nothing made up.
    assert "champion_brier_mean" not in summarise([split(0.9, {"rf": 0.9})] * 2, folds=5)


def test_a_merged_run_replaces_only_its_tables_and_stamps_them(tmp_path, monkeypatch):
    import json

    from benchmarks import quality

    stored = json.loads((quality.RESULTS_DIR / "quality.json").read_text())
    (tmp_path / "quality.json").write_text(json.dumps(stored))
    monkeypatch.setattr(quality, "RESULTS_DIR", tmp_path)
    new = {
        **stored["results"]["bigml_telecom"],
        "champion_test_roc_auc": 0.9999,
        "champion_calibration": {"method": "isotonic"},
        "champion_raw_test_roc_auc": 0.9197,
        "champion_brier_raw": 0.0415,
        "champion_brier": 0.0334,
        "champion_log_loss_raw": 0.20,
        "champion_log_loss": 0.15,
    }
    names = ["bigml_telecom", "synthetic_logistic", "bigml_telecom_cv"]
    params, results, summary = quality._merged({}, {"bigml_telecom": new}, [1.0], names)
    assert results["bigml_telecom"]["champion_test_roc_auc"] == 0.9999
    assert "git_sha" in results["bigml_telecom"]["measured"]
    assert results["synthetic_logistic"] == stored["results"]["synthetic_logistic"]
    assert list(params["merged"]) == ["bigml_telecom"]
    assert "calibration isotonic: Brier 0.0415 -> 0.0334" in summary[0]["note"]
    # The earlier table keeps its own (pre-calibration) note, and the outer CV its row.
    assert "isotonic (not in the platform then)" in summary[1]["note"]
    assert len(summary) == 3
