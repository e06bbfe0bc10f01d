"""Expected profit: the curve, the out-of-fold threshold against a brute force, batch profit."""

import numpy as np
import pytest

from churn_assets.ml.evaluation import choose_threshold
from churn_assets.ml.evaluation.profit import (
    Economics,
    batch_profit,
    profit_at,
    profit_curve,
    profit_markdown,
    profit_threshold,
)

ECON = Economics(customer_value=500.0, offer_cost=50.0, offer_success_rate=0.3, currency="EUR")


def _oof(seed=1, n=600):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    proba = np.round(np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1), 2)  # rounded: ties
    return y, proba


def _brute_force(y, proba, econ):
    """Every candidate threshold tried one by one; ties to the highest threshold."""
    best_t, best = np.inf, 0.0
    for t in sorted(set(proba.tolist()), reverse=True):
        offered = proba >= t
        profit = (y[offered].sum() * econ.customer_value * econ.offer_success_rate) - (
            offered.sum() * econ.offer_cost
        )
        if profit > best:
            best_t, best = t, profit
    return best_t, best


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_profit_threshold_is_the_brute_force_argmax(seed):
    y, proba = _oof(seed)
    threshold, rationale = choose_threshold(y, proba, objective="profit", economics=ECON)
    expected_t, expected_profit = _brute_force(y, proba, ECON)
    assert threshold == expected_t
    assert profit_at(y, proba, threshold, ECON) == pytest.approx(expected_profit)
    assert "maximises expected profit" in rationale and "EUR" in rationale


def test_the_profit_objective_is_not_the_f1_threshold():
    y, proba = _oof(4)
    expensive = Economics(customer_value=500.0, offer_cost=140.0, offer_success_rate=0.3)
    f1_t, _ = choose_threshold(y, proba, objective="f1")
    profit_t, _ = choose_threshold(y, proba, objective="profit", economics=expensive)
    assert profit_t > f1_t  # dear offers: fewer of them
    assert profit_at(y, proba, profit_t, expensive) > profit_at(y, proba, f1_t, expensive)


def test_when_no_offer_pays_nobody_is_offered():
    y = np.array([0, 0, 0, 1, 0, 0])
    proba = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.3])
    threshold, _ = profit_threshold(y, proba, ECON)
    assert threshold > proba.max()
    assert profit_at(y, proba, threshold, ECON) == 0.0


def test_the_curve_counts_offers_and_starts_with_nobody():
    y = np.array([1, 0, 1, 0])
    proba = np.array([0.9, 0.6, 0.6, 0.1])
    curve = profit_curve(y, proba, ECON)
    assert curve["offers"].tolist() == [0, 1, 3, 4]
    assert curve["churners_reached"].tolist() == [0, 1, 2, 2]
    assert curve["expected_profit"].tolist() == [0.0, 100.0, 150.0, 100.0]
    assert "(chosen)" in profit_markdown(curve, 0.6, ECON)


def test_objective_needs_economics():
    y, proba = _oof()
    with pytest.raises(ValueError, match="needs the spec's `economics`"):
        choose_threshold(y, proba, objective="profit")


def test_batch_profit_reads_the_score_as_a_probability():
    proba = np.array([0.9, 0.5, 0.2])
    out = batch_profit(proba, 0.5, ECON)
    assert out["offers"] == 2
    assert out["expected_saved"] == pytest.approx((0.9 + 0.5) * 150.0)
    assert out["expected_profit"] == pytest.approx(1.4 * 150.0 - 100.0)
