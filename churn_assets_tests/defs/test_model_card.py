"""The model card names the registered model the deployment configured, not a hard-coded one."""

import pandas as pd

from churn_assets.defs.registry import _card
from churn_assets.resources.promotion_outcome import PromotionOutcome

EVALUATION = {
    "data_version": "abc123",
    "features": ["tenure", "contract"],
    "candidates": {
        "xgboost": {
            "metrics": {"roc_auc": 0.9},
            "threshold": 0.4,
            "threshold_rationale": "best F1 out of fold",
        }
    },
}
FEATURES = pd.DataFrame({"churned": [0, 1, 0, 1], "split": ["train", "train", "test", "test"]})


def card_for(model_name: str) -> str:
    outcome = PromotionOutcome("3", True, "passed the gate", "3", None)
    return _card(model_name, EVALUATION, "xgboost", "3", outcome, "synthetic", FEATURES)


def test_the_card_shows_the_configured_model_name():
    card = card_for("acme-churn")
    assert "acme-churn" in card and "churn-classifier" not in card
    assert "churn-classifier" in card_for("churn-classifier")


def test_promotion_outcome_record_leaves_the_scores_out():
    outcome = PromotionOutcome("3", True, "ok", "3", None, scores=pd.Series([0.1]).to_numpy())
    assert "scores" not in outcome.to_dict() and outcome.to_dict()["version"] == "3"


def test_the_card_names_the_calibration_method_instead_of_asking_to_recalibrate():
    calibration = {
        "method": "isotonic",
        "oof_log_loss_before": 0.2685,
        "oof_log_loss_after": 0.1717,
        "oof_brier_before": 0.0501,
        "oof_brier_after": 0.0434,
    }
    evaluation = {
        **EVALUATION,
        "candidates": {
            "xgboost": {**EVALUATION["candidates"]["xgboost"], "calibration": calibration}
        },
    }
    outcome = PromotionOutcome("3", True, "passed the gate", "3", None)
    card = _card("acme-churn", evaluation, "xgboost", "3", outcome, "synthetic", FEATURES)
    assert "- Calibration: calibrated by a isotonic map" not in card  # grammar, checked below
    assert "- Calibration: calibrated by an isotonic map fitted on the training split's" in card
    assert "log loss 0.2685 -> 0.1717, Brier 0.0501 -> 0.0434" in card
    assert "recalibrate" not in card and "Probabilities are calibrated on the training" in card
    # Calibration switched off (or a record from before it): the caveat stays.
    for off in ({"method": "off"}, None):
        plain = {**EVALUATION["candidates"]["xgboost"], "calibration": off}
        card = _card(
            "acme-churn",
            {**EVALUATION, "candidates": {"xgboost": plain}},
            "xgboost",
            "3",
            outcome,
            "synthetic",
            FEATURES,
        )
        assert "recalibrate before reading them" in card and "- Calibration:" not in card
