"""Calibration: the map from a family's scores to probabilities is chosen out of fold, fitted on the
out-of-fold scores, and applied by the model itself (`CalibratedPipeline`) and its final fit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from churn_assets.ml.models import SearchBudget, train_family
from churn_assets.ml.models.calibration import (
    MIN_CLASS_ROWS,
    CalibratedPipeline,
    ScoreCalibrator,
    calibrate,
    calibration_text,
    choose_calibration,
)
from churn_assets.ml.models.refit import refit_all_rows
from churn_assets_tests.ml.test_models import make_preprocessor, make_telco

N = 4_000


def _labels(p: np.ndarray, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(len(p)) < p).astype(int)


def test_calibrated_scores_keep_no_map():
    # The scores are the true churn probabilities: no map can improve on them.
    p = expit(np.random.default_rng(0).normal(-1.5, 1.2, N))
    found = choose_calibration(p, _labels(p, 1))
    assert found.method == "none"
    assert found.log_loss["none"] <= min(found.log_loss.values()) + 1e-3
    np.testing.assert_array_equal(found.calibrator.transform(p), p)


def test_overconfident_log_odds_get_a_sigmoid():
    # The scores' log-odds are the truth's, stretched 2.5x and shifted: a sigmoid undoes that
    # exactly; isotonic's steps fit it less smoothly.
    z = np.random.default_rng(2).normal(-1.5, 1.2, N)
    y = _labels(expit(z), 3)
    scores = expit(2.5 * z + 1.0)
    found = choose_calibration(scores, y)
    assert found.method == "sigmoid"
    assert found.log_loss["sigmoid"] < found.log_loss["none"] - 0.05
    assert found.log_loss["sigmoid"] < found.log_loss["isotonic"]
    # The fitted map recovers the stretch: coef ~ 1 / 2.5 on the log-odds.
    assert found.calibrator.params["coef"] == pytest.approx(0.4, abs=0.05)


def test_a_step_shaped_truth_gets_isotonic():
    # Churn jumps from 5% to 60% at the score 0.5: no sigmoid of the scores is a step.
    scores = np.random.default_rng(4).random(N)
    y = _labels(np.where(scores < 0.5, 0.05, 0.6), 5)
    found = choose_calibration(scores, y)
    assert found.method == "isotonic"
    assert found.log_loss["isotonic"] < found.log_loss["sigmoid"] - 0.02
    mapped = found.calibrator.transform(np.array([0.2, 0.45, 0.55, 0.8]))
    np.testing.assert_allclose(mapped, [0.05, 0.05, 0.6, 0.6], atol=0.08)
    # Clipped outside the fitted scores, and bounded away from 0 and 1.
    ends = found.calibrator.transform(np.array([scores.min(), scores.max()]))
    np.testing.assert_allclose(found.calibrator.transform(np.array([-1.0, 2.0])), ends, atol=2e-6)
    steps = np.asarray(found.calibrator.params["y"])
    assert steps.min() >= 1e-3 and steps.max() <= 1 - 1e-3


def test_an_isotonic_map_keeps_the_order_of_the_scores():
    # A step-shaped truth makes wide isotonic blocks; inside one the raw score still decides the
    # order, so the ranking (ROC AUC) is the raw scores' exactly and only the levels move.
    scores = np.random.default_rng(4).random(N)
    y = _labels(np.where(scores < 0.5, 0.05, 0.6), 5)
    found = choose_calibration(scores, y)
    assert found.method == "isotonic"
    mapped = found.calibrator.transform(scores)
    assert len(np.unique(mapped)) == len(np.unique(scores))
    assert np.all(np.diff(mapped[np.argsort(scores)]) > 0)
    assert roc_auc_score(y, mapped) == roc_auc_score(y, scores)
    # The cross-fitted out-of-fold scores the threshold is chosen on keep each fold's order too.
    assert roc_auc_score(y, found.scores) == pytest.approx(roc_auc_score(y, scores), abs=0.01)
    assert brier_score_loss(y, mapped) < brier_score_loss(y, scores) - 0.02


def test_a_small_table_or_the_setting_keeps_the_scores():
    z = np.random.default_rng(6).normal(-1.5, 1.2, 300)
    scores = expit(3 * z)
    y = np.zeros(300, dtype=int)
    y[: MIN_CLASS_ROWS - 1] = 1  # one churner short of a comparison
    small = choose_calibration(scores, y)
    assert small.method == "none" and "too few rows" in small.reason
    assert small.scores is scores and not small.log_loss
    off = choose_calibration(scores, y, setting="none")
    assert off.method == "off" and off.calibrator is None
    with pytest.raises(ValueError, match="calibration must be one of"):
        choose_calibration(scores, y, setting="isotonic")
    with pytest.raises(ValueError, match="must be 'auto' or 'none'"):
        SearchBudget(calibration="sigmoid")


def test_the_calibrated_pipeline_applies_its_map_and_keeps_its_steps():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(500, 3))
    y = (X[:, 0] + rng.normal(size=500) > 1).astype(int)
    inner = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(X, y)
    calibrator = ScoreCalibrator("sigmoid", {"coef": 0.5, "intercept": -1.0})
    model = CalibratedPipeline(inner.steps, calibrator=calibrator)
    raw = inner.predict_proba(X)[:, 1]
    expected = expit(0.5 * np.log(raw / (1 - raw)) - 1.0)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], expected, rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), (expected >= 0.5).astype(int))
    assert model.steps[-1][1] is inner.steps[-1][1] and model.named_steps["model"] is not None
    np.testing.assert_allclose(calibrate(model, raw), expected, rtol=1e-12)
    np.testing.assert_array_equal(calibrate(inner, raw), raw)  # a plain Pipeline: unchanged
    # A clone refits the steps and keeps the map (the final fit's way).
    again = clone(model).fit(X, y)
    np.testing.assert_allclose(again.predict_proba(X)[:, 1], expected, rtol=1e-9)
    # The map travels in a JSON record to the final fit.
    back = ScoreCalibrator.from_record(calibrator.to_record())
    np.testing.assert_allclose(back.transform(raw), expected, rtol=1e-12)


@pytest.fixture(scope="module")
def forest():
    """A class-weighted forest trained with and without calibration on the same rows."""
    X, y = make_telco(2_000, seed=11)
    budget = {"n_iter": 2, "cv_folds": 3, "random_state": 0, "refit_trees": 60}
    on = train_family("random_forest", make_preprocessor(), X, y, SearchBudget(**budget))
    off = train_family(
        "random_forest", make_preprocessor(), X, y, SearchBudget(**budget, calibration="none")
    )
    return X, y, on, off


def test_a_class_weighted_forest_gets_calibrated_out_of_fold(forest):
    X, y, on, off = forest
    record = on.calibration
    assert record["method"] in ("sigmoid", "isotonic")
    # Cross-validated over the out-of-fold scores: each row mapped by a map fitted without it.
    assert record["oof_brier_after"] <= record["oof_brier_before"]
    assert record["oof_log_loss_after"] < record["oof_log_loss_before"]
    # The raw out-of-fold scores are the uncalibrated run's, and its Brier the "before".
    assert record["oof_brier_before"] == pytest.approx(brier_score_loss(y, off.oof_proba))
    assert brier_score_loss(y, on.oof_proba) < brier_score_loss(y, off.oof_proba)
    # Balanced weights inflate the scores; the calibrated ones average the churn rate.
    assert off.oof_proba.mean() > y.mean() + 0.05
    assert on.oof_proba.mean() == pytest.approx(y.mean(), abs=0.02)
    assert on.cv_metrics["cv_brier_mean"] < off.cv_metrics["cv_brier_mean"]
    # Ranking evidence is the raw scores' either way (the selection does not move).
    assert on.cv_metrics["cv_roc_auc_mean"] == off.cv_metrics["cv_roc_auc_mean"]
    # The model applies the map the record carries; without calibration it is a plain Pipeline.
    assert isinstance(on.pipeline, CalibratedPipeline) and type(off.pipeline) is Pipeline
    raw = off.pipeline.predict_proba(X.head(200))[:, 1]
    mapped = ScoreCalibrator.from_record(record["calibrator"]).transform(raw)
    np.testing.assert_allclose(on.pipeline.predict_proba(X.head(200))[:, 1], mapped)
    assert off.calibration["method"] == "off"


def test_the_final_fit_carries_the_map(forest):
    X, y, on, _ = forest
    final = refit_all_rows(
        "random_forest", on.best_params, make_preprocessor(), X, y, 0, on.calibration
    )
    assert isinstance(final, CalibratedPipeline)
    raw = Pipeline.predict_proba(final, X.head(100))[:, 1]
    mapped = ScoreCalibrator.from_record(on.calibration["calibrator"]).transform(raw)
    np.testing.assert_allclose(final.predict_proba(X.head(100))[:, 1], mapped)
    plain = refit_all_rows("random_forest", on.best_params, make_preprocessor(), X, y, 0)
    assert type(plain) is Pipeline


def test_the_card_text_names_the_method():
    record = {
        "method": "isotonic",
        "oof_log_loss_before": 0.2685,
        "oof_log_loss_after": 0.1717,
        "oof_brier_before": 0.0501,
        "oof_brier_after": 0.0434,
    }
    text = calibration_text(record)
    assert text.startswith("calibrated by an isotonic map fitted on the training split's")
    assert "0.2685 -> 0.1717" in text and "0.0501 -> 0.0434" in text
    assert calibration_text({**record, "method": "none"}).startswith("not remapped")
    assert calibration_text({"method": "off"}) is None
    assert calibration_text({}) is None
