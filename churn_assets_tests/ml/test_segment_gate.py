"""The gate's segment rule: off by default; on, it refuses a challenger that is worse than the
champion in one large-enough segment, and only then."""

import numpy as np
import pandas as pd
import pytest

from churn_assets.ml.evaluation import holdout_metrics
from churn_assets.ml.promotion import GateConfig, bootstrap_auc_difference, decide_promotion
from churn_assets.ml.promotion.segment_gate import compare_segments, segment_rule


@pytest.fixture(scope="module")
def case():
    """Segment "a" (1,200 rows) where the challenger is as good as the champion, "b" (600 rows)
    where it is much worse, "c" (40 rows) where it is random: overall close to the champion."""
    rng = np.random.default_rng(7)
    labels = pd.DataFrame({"contract": ["a"] * 1200 + ["b"] * 600 + ["c"] * 40})
    y = (rng.random(len(labels)) < 0.3).astype(int)
    champion = 1 / (1 + np.exp(-(2.5 * y - 1.2 + rng.normal(0, 1, len(y)))))
    challenger = champion.copy()
    b = (labels["contract"] == "b").to_numpy()
    challenger[b] = 1 / (1 + np.exp(-(1.2 * y[b] - 1.2 + rng.normal(0, 1, b.sum()))))
    c = (labels["contract"] == "c").to_numpy()
    challenger[c] = rng.random(c.sum())
    return y, challenger, champion, labels


def _decide(case, gate):
    y, challenger, champion, labels = case
    comparison = bootstrap_auc_difference(y, challenger, champion, n_resamples=1000)
    metrics = holdout_metrics(y, challenger, 0.5)
    by_segment = segment_rule(gate, y, challenger, champion, labels)
    return decide_promotion(metrics, gate, comparison, by_segment)


LOOSE = {"min_metrics": {"roc_auc": 0.6}, "max_auc_drop": 0.2}


def test_off_by_default_the_challenger_passes(case):
    decision = _decide(case, GateConfig(**LOOSE))
    assert decision.promote, decision.reason
    assert decision.evidence["segments"] is None


def test_on_the_worse_segment_refuses_it_and_is_named(case):
    decision = _decide(case, GateConfig(**LOOSE, segment_rule=True, segment_min_rows=200))
    assert not decision.promote
    assert "segment contract = b (600 rows)" in decision.reason
    evidence = decision.evidence["segments"]
    assert [s["value"] for s in evidence["segments"]] == ["a", "b"]  # "c" is too small
    assert evidence["skipped_small"] == 1
    assert [s["passed"] for s in evidence["segments"]] == [True, False]


def test_a_small_worse_segment_does_not_block(case):
    y, challenger, champion, labels = case
    only_c_worse = champion.copy()
    c = (labels["contract"] == "c").to_numpy()
    only_c_worse[c] = challenger[c]
    out = compare_segments(y, only_c_worse, champion, labels, min_rows=200, max_auc_drop=0.05)
    assert out["passed"] and out["failures"] == []
    out = compare_segments(y, only_c_worse, champion, labels, min_rows=30, max_auc_drop=0.05)
    assert not out["passed"] and "contract = c" in out["failures"][0]


def test_the_margin_decides(case):
    y, challenger, champion, labels = case
    out = compare_segments(y, challenger, champion, labels, min_rows=200, max_auc_drop=0.05)
    drop = out["segments"][1]["drop"]
    assert drop > 0.05
    wide = compare_segments(y, challenger, champion, labels, min_rows=200, max_auc_drop=drop)
    assert wide["passed"]


def test_without_a_champion_or_segments_the_rule_says_so(case):
    y, challenger, _, labels = case
    gate = GateConfig(segment_rule=True)
    assert segment_rule(gate, y, challenger, None, labels) is None
    none = segment_rule(gate, y, challenger, challenger, None)
    assert none["passed"] and "names no segments" in none["note"]


def test_single_class_segments_are_listed_not_compared():
    labels = pd.DataFrame({"s": ["x"] * 50 + ["y"] * 50})
    y = np.r_[np.zeros(50, int), np.tile([0, 1], 25)]
    p = np.linspace(0, 1, 100)
    out = compare_segments(y, p[::-1], p, labels, min_rows=10, max_auc_drop=0.0)
    assert out["segments"][0]["passed"] is None and "single class" in out["segments"][0]["note"]
    assert not out["segments"][1]["passed"]


def test_bad_segment_settings_are_refused():
    with pytest.raises(ValueError, match="segment_min_rows must be >= 1"):
        GateConfig(segment_min_rows=0)
    with pytest.raises(ValueError, match="segment_max_auc_drop >= 0"):
        GateConfig(segment_max_auc_drop=-0.1)
