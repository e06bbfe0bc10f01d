"""Tests written to kill mutants that survived the promotion tests (README "Faults and mutation
testing"): each pins a detail of the gate's evidence that a mutation changed unnoticed."""

from dataclasses import replace

import pytest

from churn_assets.ml.promotion import GateConfig, decide_promotion
from churn_assets.ml.promotion.bootstrap import AucComparison


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


COMPARISON = AucComparison(
    auc_challenger=0.81,
    auc_champion=0.80,
    diff=0.01,
    ci_low=-0.01,
    ci_high=0.03,
    n_resamples=500,
    skipped_resamples=3,
    confidence=0.9,
    n_rows=1234,
)
RULE = (
    "all thresholds pass and, with a champion, ci_low(AUC challenger - champion) >= -max_auc_drop"
)


def test_the_champion_comparison_evidence_records_every_value_and_the_reason_says_them():
    gate = GateConfig(min_metrics={"roc_auc": 0.7}, max_auc_drop=0.02)
    decision = decide_promotion({"roc_auc": 0.81}, gate, COMPARISON)
    assert decision.evidence["champion_comparison"] == {
        "auc_challenger": 0.81,
        "auc_champion": 0.80,
        "diff": 0.01,
        "ci_low": -0.01,
        "ci_high": 0.03,
        "n_resamples": 500,
        "skipped_resamples": 3,
        "confidence": 0.9,
        "n_rows": 1234,
        "required_ci_low": -0.02,
        "passed": True,
    }
    assert decision.evidence["max_auc_drop"] == 0.02 and decision.evidence["rule"] == RULE
    assert decision.reason == (
        "Promoted: every threshold passed and it is not worse than the champion: ROC AUC 0.8100 "
        "vs champion 0.8000, difference +0.0100 with 90% interval [-0.0100, +0.0300]."
    )
    assert decision.failed_thresholds == []


def test_a_lower_bound_exactly_at_the_allowed_drop_is_non_inferior_and_below_it_is_not():
    gate = GateConfig(min_metrics={"roc_auc": 0.7}, max_auc_drop=0.02)
    at_margin = replace(COMPARISON, ci_low=-0.02)
    assert decide_promotion({"roc_auc": 0.81}, gate, at_margin).promote
    below = replace(COMPARISON, ci_low=-0.0201)
    decision = decide_promotion({"roc_auc": 0.81}, gate, below)
    assert not decision.promote
    assert decision.evidence["champion_comparison"]["passed"] is False
    assert decision.reason == (
        "Not promoted: the challenger may be worse than the champion: ROC AUC 0.8100 vs "
        "champion 0.8000, difference +0.0100 with 90% interval [-0.0201, +0.0300], whose lower "
        "bound is below the allowed drop of -0.0200."
    )


def test_the_first_model_and_failed_thresholds_are_explained_in_full():
    gate = GateConfig(min_metrics={"roc_auc": 0.7, "f1": 0.5}, max_metrics={"brier": 0.2})
    first = decide_promotion({"roc_auc": 0.8, "f1": 0.6, "brier": 0.1}, gate)
    assert first.reason == (
        "Promoted as the first model: every threshold passed (no champion to compare)."
    )
    assert first.evidence["champion_comparison"] is None
    refused = decide_promotion({"roc_auc": 0.65, "brier": 0.25}, gate)
    assert refused.failed_thresholds == ["roc_auc", "f1", "brier"]
    assert refused.reason == (
        "Not promoted: roc_auc 0.6500 is below the minimum 0.7000; f1 is missing from the "
        "challenger's metrics; brier 0.2500 is above the maximum 0.2000."
    )


def test_a_nan_metric_fails_like_a_missing_one():
    gate = GateConfig(min_metrics={"roc_auc": 0.7})
    decision = decide_promotion({"roc_auc": float("nan")}, gate)
    assert not decision.promote
    assert decision.evidence["thresholds"]["roc_auc"] == {
        "observed": None,
        "min": 0.7,
        "passed": False,
    }


def test_the_gate_configuration_accepts_its_boundaries():
    gate = GateConfig(max_auc_drop=0.0, segment_min_rows=1, segment_max_auc_drop=0.0)
    assert (gate.max_auc_drop, gate.segment_min_rows, gate.segment_max_auc_drop) == (0.0, 1, 0.0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_auc_drop": -0.001}, "max_auc_drop must be >= 0, got -0.001"),
        (
            {"segment_min_rows": 0},
            "segment_min_rows must be >= 1 and segment_max_auc_drop >= 0, got 0 and 0.05",
        ),
        (
            {"segment_max_auc_drop": -0.001},
            "segment_min_rows must be >= 1 and segment_max_auc_drop >= 0, got 200 and -0.001",
        ),
        ({"n_resamples": 0}, "n_resamples must be >= 1, got 0"),
        ({"confidence": 1.0}, "confidence must be between 0 and 1, got 1.0"),
    ],
)
def test_a_gate_configuration_out_of_range_is_refused_by_name(fields, message):
    with pytest.raises(ValueError) as raised:
        GateConfig(**fields)
    assert str(raised.value) == message


def test_segment_failures_join_the_other_failures_and_the_evidence_keeps_the_segments():
    gate = GateConfig(min_metrics={"roc_auc": 0.7})
    segments = {"failures": ["segment plan=basic: ROC AUC drops by 0.0800 (more than 0.0500)"]}
    refused = decide_promotion({"roc_auc": 0.6}, gate, COMPARISON, segments)
    assert not refused.promote and refused.failed_thresholds == ["roc_auc"]
    assert refused.reason == (
        "Not promoted: roc_auc 0.6000 is below the minimum 0.7000; "
        "segment plan=basic: ROC AUC drops by 0.0800 (more than 0.0500)."
    )
    assert refused.evidence["segments"] is segments
    alone = decide_promotion({"roc_auc": 0.8}, gate, COMPARISON, segments)
    assert not alone.promote and alone.failed_thresholds == []
    passing = decide_promotion({"roc_auc": 0.8}, gate, COMPARISON, {"failures": []})
    assert passing.promote and passing.evidence["segments"] == {"failures": []}
