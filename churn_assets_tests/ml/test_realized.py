"""Realized performance: the metrics equal sklearn's, the intervals cover them, and the decay
rule decides only with enough outcomes, each condition failing alone."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, recall_score, roc_auc_score

from churn_assets.ml.evaluation.realized import DecayRule, join_outcomes, realized_performance


def outcomes(n=600, signal=1.5, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    p = 1 / (1 + np.exp(-(signal * (y - 0.5) * 2 + rng.normal(0, 1, n))))
    return y, p


def test_metrics_are_sklearns_and_intervals_cover_them():
    y, p = outcomes()
    result = realized_performance(y, p, rows_scored=1000, threshold=0.5, holdout_auc=None)
    assert result.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert result.metrics["brier"] == pytest.approx(brier_score_loss(y, p))
    assert result.metrics["recall"] == pytest.approx(recall_score(y, p >= 0.5))
    for name in ("roc_auc", "pr_auc", "brier", "recall", "lift_top_decile"):
        low, high = result.intervals[name]
        assert low <= result.metrics[name] <= high, name
        assert high > low, name
    assert result.outcome_share == 0.6
    assert len(result.reliability) >= 2 and result.reliability["observed_rate"].between(0, 1).all()


def test_decay_when_realized_auc_is_below_holdout_by_more_than_the_margin():
    y, p = outcomes()
    auc = roc_auc_score(y, p)
    decayed = realized_performance(y, p, 600, 0.5, holdout_auc=auc + 0.06)
    assert decayed.status == "decayed" and "more than the margin 0.050" in decayed.reason
    assert decayed.auc_gap == pytest.approx(0.06)
    within = realized_performance(y, p, 600, 0.5, holdout_auc=auc + 0.04)
    assert within.status == "ok" and "within the margin" in within.reason
    wider = realized_performance(y, p, 600, 0.5, auc + 0.06, DecayRule(margin=0.1))
    assert wider.status == "ok"


@pytest.mark.parametrize(
    ("n", "rule"),
    [(150, DecayRule(min_outcomes=200)), (600, DecayRule(min_per_class=500))],
)
def test_too_few_outcomes_never_decide_even_with_a_big_gap(n, rule):
    y, p = outcomes(n)
    result = realized_performance(y, p, 1000, 0.5, holdout_auc=0.99, rule=rule)
    assert result.status == "not enough outcomes"
    assert result.metrics  # still shown, with intervals, only not judged
    assert f"{n} outcomes" in result.reason


def test_one_class_so_far_has_no_metrics():
    result = realized_performance(np.zeros(50), np.linspace(0, 1, 50), 100, 0.5, 0.9)
    assert result.status == "not enough outcomes" and result.metrics == {}
    assert result.auc_gap is None and result.outcome_share == 0.5


def test_more_outcomes_than_scored_rows_is_an_error():
    with pytest.raises(ValueError, match="3 outcomes, 3 scores, 2 rows scored"):
        realized_performance(np.array([0, 1, 0]), np.array([0.1, 0.9, 0.2]), 2, 0.5, None)


def test_bad_rule_settings_are_refused():
    with pytest.raises(ValueError, match="margin"):
        DecayRule(margin=-0.1)


def test_join_keeps_scored_rows_with_an_outcome_ids_as_text():
    scored = pd.DataFrame(
        {"customer_id": ["007", "C2", "C3"], "churn_probability": [0.1, 0.8, 0.3]}
    )
    found = pd.DataFrame({"id": ["7", "C2", "C3"], "churned": [1, 1, 0]})
    joined = join_outcomes(scored, found, "customer_id")
    assert joined["customer_id"].tolist() == ["C2", "C3"] and joined["churned"].tolist() == [1, 0]


def test_recall_interval_is_the_segment_bootstraps_one_implementation():
    from churn_assets.ml.promotion.bootstrap import bootstrap_auc_recall

    y, p = outcomes()
    result = realized_performance(y, p, 1000, 0.4, None, n_resamples=300, random_state=7)
    expected = bootstrap_auc_recall(y, p, 0.4, n_resamples=300, random_state=7)["recall"]
    assert result.intervals["recall"] == expected


def test_outcomes_observed_before_scoring_are_left_out_and_counted():
    from churn_assets.ml.evaluation.realized import observed_after

    found = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "churned": [1, 0, 1],
            "observed_at": pd.to_datetime(
                ["2026-01-31 23:59", "2026-02-01 00:00", "2026-03-01 00:00"], utc=True
            ),
        }
    )
    kept, before = observed_after(found, pd.Timestamp("2026-02-01"))  # naive: UTC
    assert kept["id"].tolist() == ["b", "c"] and before == 1
    kept, before = observed_after(found, pd.Timestamp("2026-02-01 01:00", tz="Europe/Paris"))
    assert kept["id"].tolist() == ["b", "c"] and before == 1  # 00:00 UTC
    kept, before = observed_after(found, None)
    assert len(kept) == 3 and before == 0
