"""Tests written to kill mutants that survived the promotion tests (README "Faults and mutation
testing"): each pins a detail of the gate's evidence that a mutation changed unnoticed."""

from churn_assets.ml.promotion import GateConfig, decide_promotion


def test_a_max_metric_is_recorded_as_max_with_its_limit():
    gate = GateConfig(min_metrics={"roc_auc": 0.7}, max_metrics={"brier": 0.2})
    passing = decide_promotion({"roc_auc": 0.8, "brier": 0.1}, gate)
    failing = decide_promotion({"roc_auc": 0.8, "brier": 0.3}, gate)
    assert passing.evidence["thresholds"]["brier"] == {"observed": 0.1, "max": 0.2, "passed": True}
    assert failing.evidence["thresholds"]["brier"] == {
        "observed": 0.3,
        "max": 0.2,
        "passed": False,
    }
    assert passing.promote and not failing.promote


def test_a_metric_exactly_at_its_limit_passes():
    gate = GateConfig(min_metrics={"roc_auc": 0.7}, max_metrics={"brier": 0.2})
    decision = decide_promotion({"roc_auc": 0.7, "brier": 0.2}, gate)
    assert decision.promote, decision.reason
    assert decision.evidence["thresholds"]["roc_auc"]["passed"] is True
    assert decision.evidence["thresholds"]["brier"]["passed"] is True


def test_a_missing_metric_is_recorded_as_failed_not_unknown():
    gate = GateConfig(min_metrics={"roc_auc": 0.7, "recall": 0.5})
    decision = decide_promotion({"roc_auc": 0.8}, gate)
    assert decision.evidence["thresholds"]["recall"] == {
        "observed": None,
        "min": 0.5,
        "passed": False,
    }
