"""Tests of holdout metrics, threshold choice, plots and candidate selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churn_assets.ml.evaluation import (
    choose_threshold,
    compare_candidates,
    feature_importance_table,
    holdout_metrics,
    lift_top_decile,
    plot_calibration,
    plot_confusion_matrix,
    plot_feature_importance,
    plot_pr_curves,
    plot_roc_curves,
    select_best,
)
from churn_assets.ml.models import build_pipeline

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Hand-checkable case: predicting churn at p >= t gives, with F1 = 2TP / (2TP + FP + FN),
#   t=0.8: TP1 FP0 FN3 -> 0.400    t=0.7: TP2 FP0 FN2 -> 0.667    t=0.6: TP2 FP1 FN2 -> 0.571
#   t=0.5: TP3 FP1 FN1 -> 0.750    t=0.4: TP3 FP2 FN1 -> 0.667    t=0.3: TP4 FP2 FN0 -> 0.800
#   t=0.2: TP4 FP3 FN0 -> 0.727    t=0.1: TP4 FP4 FN0 -> 0.667
HAND_PROBA = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
HAND_Y = np.array([0, 0, 1, 0, 1, 0, 1, 1])


@pytest.fixture(scope="module")
def scored() -> tuple[np.ndarray, np.ndarray]:
    """Labels and informative probabilities (AUC ~0.8, churn rate ~25%)."""
    rng = np.random.default_rng(0)
    y = (rng.random(1500) < 0.25).astype(int)
    proba = 1 / (1 + np.exp(-(1.6 * y - 1.5 + rng.normal(0, 1.0, len(y)))))
    return y, proba


def test_holdout_metrics_match_sklearn(scored):
    y, proba = scored
    metrics = holdout_metrics(y, proba, threshold=0.35)
    y_pred = (proba >= 0.35).astype(int)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, proba))
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(y, proba))
    assert metrics["f1"] == pytest.approx(f1_score(y, y_pred))
    assert metrics["precision"] == pytest.approx(precision_score(y, y_pred))
    assert metrics["recall"] == pytest.approx(recall_score(y, y_pred))
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, y_pred))
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, proba))
    assert metrics["log_loss"] == pytest.approx(log_loss(y, proba))
    assert metrics["threshold"] == 0.35
    assert all(isinstance(v, float) for v in metrics.values())


def test_holdout_metrics_on_the_hand_case():
    metrics = holdout_metrics(HAND_Y, HAND_PROBA, threshold=0.5)
    assert metrics["f1"] == pytest.approx(0.75)
    assert metrics["precision"] == pytest.approx(0.75)
    assert metrics["recall"] == pytest.approx(0.75)
    assert metrics["accuracy"] == pytest.approx(6 / 8)
    # 16 positive/negative pairs, 13 ranked correctly.
    assert metrics["roc_auc"] == pytest.approx(13 / 16)


def test_lift_top_decile_on_a_hand_example():
    # 20 rows, 5 churners (base rate 0.25); the top 10% = 2 rows, one of them a churner.
    y = np.array([1, 0, 1, 1, 1, 1] + [0] * 14)
    proba = np.linspace(0.95, 0.0, 20)
    assert lift_top_decile(y, proba) == pytest.approx(0.5 / 0.25)
    assert holdout_metrics(y, proba)["lift_top_decile"] == pytest.approx(2.0)
    # Row order does not matter, only the scores do.
    order = np.random.default_rng(1).permutation(20)
    assert lift_top_decile(y[order], proba[order]) == pytest.approx(2.0)


def test_lift_of_a_perfect_ranking_is_one_over_the_base_rate():
    y = np.array([1] * 10 + [0] * 90)
    proba = np.linspace(1.0, 0.0, 100)
    assert lift_top_decile(y, proba) == pytest.approx(10.0)


def test_holdout_metrics_refuse_bad_inputs():
    with pytest.raises(ValueError, match="only one class"):
        holdout_metrics([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="3 rows but the probabilities have 2"):
        holdout_metrics([0, 1, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        holdout_metrics([0, 1], [0.1, np.nan])


def test_choose_threshold_maximises_f1_on_the_hand_case():
    threshold, rationale = choose_threshold(HAND_Y, HAND_PROBA, objective="f1")
    assert threshold == pytest.approx(0.3)
    assert "F1 0.800" in rationale and "8 training rows" in rationale
    assert holdout_metrics(HAND_Y, HAND_PROBA, threshold)["f1"] == pytest.approx(0.8)


def test_choose_threshold_minimises_cost_on_the_hand_case():
    # A wasted offer costs 10, a missed churner 1: flag only the two surest churners
    # (t=0.7: FN2 FP0 -> cost 2; t=0.8: 3; flagging nobody: 4; t=0.5: FN1 FP1 -> 11).
    threshold, rationale = choose_threshold(
        HAND_Y, HAND_PROBA, objective="cost", cost_false_negative=1, cost_false_positive=10
    )
    assert threshold == pytest.approx(0.7)
    assert "cost 2 (2 missed churners, 0 wasted offers)" in rationale
    # A missed churner costs 10, an offer 1: catch all churners (t=0.3: FP2 -> cost 2).
    threshold, _ = choose_threshold(
        HAND_Y, HAND_PROBA, objective="cost", cost_false_negative=10, cost_false_positive=1
    )
    assert threshold == pytest.approx(0.3)


def test_costlier_missed_churners_lower_the_threshold(scored):
    y, proba = scored
    cheap_miss, _ = choose_threshold(y, proba, "cost", cost_false_negative=1, cost_false_positive=5)
    balanced, _ = choose_threshold(y, proba, "cost", cost_false_negative=1, cost_false_positive=1)
    costly_miss, _ = choose_threshold(
        y, proba, "cost", cost_false_negative=5, cost_false_positive=1
    )
    assert costly_miss < balanced < cheap_miss
    flagged = [(proba >= t).sum() for t in (costly_miss, balanced, cheap_miss)]
    assert flagged[0] > flagged[1] > flagged[2]


def test_cost_objective_can_flag_nobody():
    y = np.array([0, 0, 0, 1])
    proba = np.array([0.9, 0.8, 0.7, 0.1])
    threshold, _ = choose_threshold(y, proba, "cost", cost_false_negative=1, cost_false_positive=1)
    assert threshold > proba.max()
    assert (proba >= threshold).sum() == 0


def test_choose_threshold_refuses_bad_arguments(scored):
    y, proba = scored
    with pytest.raises(ValueError, match="unknown threshold objective 'recall'"):
        choose_threshold(y, proba, objective="recall")
    with pytest.raises(ValueError, match="costs must be positive"):
        choose_threshold(y, proba, objective="cost", cost_false_negative=0)


def test_compare_and_select_rank_by_roc_auc_then_pr_auc_then_name():
    results = {
        "b_model": {"roc_auc": 0.80, "pr_auc": 0.60},
        "a_model": {"roc_auc": 0.80, "pr_auc": 0.60},
        "c_model": {"roc_auc": 0.80, "pr_auc": 0.65},
        "d_model": {"roc_auc": 0.85, "pr_auc": 0.50},
        "e_model": {"roc_auc": float("nan"), "pr_auc": 0.90},
    }
    table = compare_candidates(results)
    assert list(table["candidate"]) == ["d_model", "c_model", "a_model", "b_model", "e_model"]
    assert list(table.columns) == ["candidate", "roc_auc", "pr_auc"]
    assert select_best(results) == "d_model"
    del results["d_model"]
    assert select_best(results) == "c_model"
    del results["c_model"]
    assert select_best(results) == "a_model"


def test_select_best_refuses_empty_or_incomplete_results():
    with pytest.raises(ValueError, match="no candidates"):
        select_best({})
    with pytest.raises(ValueError, match="'x' has no 'roc_auc'"):
        compare_candidates({"x": {"f1": 0.5}})


def test_curve_plots_are_png(scored):
    y, proba = scored
    rng = np.random.default_rng(2)
    curves = {"model": (y, proba), "random": (y, rng.random(len(y)))}
    for png in (plot_roc_curves(curves), plot_pr_curves(curves), plot_calibration(curves)):
        assert png.startswith(PNG_MAGIC) and len(png) > 1000
    confusion = plot_confusion_matrix(y, (proba >= 0.4).astype(int), title="holdout")
    assert confusion.startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="no curves"):
        plot_roc_curves({})


def _telco(n_rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Churn depends on contract and tenure only; `noise` is unrelated."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 73, n_rows).astype(float)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], n_rows)
    logit = -0.8 + 2.0 * (contract == "month-to-month") - 0.05 * (tenure - 24)
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"tenure": tenure, "noise": rng.normal(size=n_rows), "contract": contract})
    return X, pd.Series(y)


def _preprocessor() -> ColumnTransformer:
    numeric = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    return ColumnTransformer(
        [("num", numeric, ["tenure", "noise"]), ("cat", categorical, ["contract"])]
    )


def test_feature_importance_finds_the_real_drivers():
    X, y = _telco(1200, seed=4)
    pipeline = build_pipeline("logistic_regression", _preprocessor(), y, random_state=0)
    pipeline.fit(X.iloc[:800], y.iloc[:800])
    table = feature_importance_table(pipeline, X.iloc[800:], y.iloc[800:], random_state=0)
    assert list(table.columns) == ["feature", "importance_mean", "importance_std"]
    assert set(table["feature"]) == {"tenure", "noise", "contract"}
    assert table["feature"].iloc[-1] == "noise"
    importance = table.set_index("feature")["importance_mean"]
    assert importance["contract"] > 0.05 and importance["tenure"] > 0.05
    assert abs(importance["noise"]) < 0.02
    png = plot_feature_importance(pipeline, X.iloc[800:], y.iloc[800:], random_state=0, top_n=2)
    assert png.startswith(PNG_MAGIC)
    reused = plot_feature_importance(pipeline, X, y, table=table)
    assert reused.startswith(PNG_MAGIC)


def test_feature_importance_is_the_same_on_two_processes():
    X, y = _telco(600, seed=5)
    pipeline = build_pipeline("logistic_regression", _preprocessor(), y, random_state=0)
    pipeline.fit(X.iloc[:400], y.iloc[:400])
    one = feature_importance_table(pipeline, X.iloc[400:], y.iloc[400:], random_state=3)
    two = feature_importance_table(pipeline, X.iloc[400:], y.iloc[400:], random_state=3, n_jobs=2)
    pd.testing.assert_frame_equal(one, two)
