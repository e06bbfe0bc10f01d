"""Class weighting is a searched choice: the out-of-fold ROC AUC decides it, like any parameter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from churn_assets.ml.evaluation import choose_threshold
from churn_assets.ml.evaluation.profit import Economics
from churn_assets.ml.models import SearchBudget, default_search_space, train_family
from churn_assets.ml.models.refit import refit_all_rows
from churn_assets.ml.models.zoo import balanced_pos_weight

# Fixed C: the only choice left to the search is the weighting.
WEIGHTING_ONLY = {"model__C": [1.0], "model__class_weight": ["balanced", None]}
# The raw scores: the weighting's own effect on them is the subject (calibration would remap
# them; on the two-region table isotonic wins, test_calibration.py covers the map).
BUDGET = SearchBudget(n_iter=2, cv_folds=3, random_state=0, calibration="none")


def two_regions(slope_low: float, region_high: float, base_high: float, seed: int = 0):
    """Rows in two regions (told apart by `x1`) where `x2` raises churn in the low-churn region
    (slope `slope_low`) and lowers it in the other (slope -3). A linear model must pick one
    slope for `x2`: weighting the rare churners up or not moves that compromise, and so the
    ranking. `region_high` is the share of rows in the high-churn region."""
    rng = np.random.default_rng(seed)
    n = 1500
    high = rng.random(n) < region_high
    x1 = np.where(high, rng.normal(1.5, 0.7, n), rng.normal(-1.0, 0.7, n))
    x2 = rng.normal(size=n)
    logit = np.where(high, base_high - 3 * x2, -4 + slope_low * x2)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2}), pd.Series(y)


def fold_auc(X, y, class_weight) -> float:
    """Mean ROC AUC over the search's own folds, computed here without the platform."""
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=BUDGET.random_state)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, class_weight=class_weight))
    return float(cross_val_score(model, X, y, cv=folds, scoring="roc_auc").mean())


def oof_of(X, y, class_weight) -> np.ndarray:
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=BUDGET.random_state)
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=1.0, class_weight=class_weight, max_iter=2000)
    )
    return cross_val_predict(model, X, y, cv=folds, method="predict_proba")[:, 1]


@pytest.mark.parametrize(
    ("table", "winner", "loser"),
    [
        # Half the rows churn-prone: unweighted LR ranks better out of fold.
        ({"slope_low": 3, "region_high": 0.5, "base_high": 0.0}, None, "balanced"),
        # A tenth of the rows churn-prone, few churners: balanced LR ranks better.
        ({"slope_low": 1, "region_high": 0.1, "base_high": -2.0}, "balanced", None),
    ],
    ids=["unweighted-wins", "balanced-wins"],
)
def test_the_weighting_that_wins_out_of_fold_is_chosen(table, winner, loser):
    X, y = two_regions(**table)
    # The table is what the case says it is: the winner leads on the search's folds.
    assert fold_auc(X, y, winner) > fold_auc(X, y, loser) + 0.003

    result = train_family("logistic_regression", StandardScaler(), X, y, BUDGET, WEIGHTING_ONLY)

    assert result.best_params["model__class_weight"] == winner
    assert result.pipeline.named_steps["model"].class_weight == winner
    # The out-of-fold scores (which choose the threshold) are the chosen weighting's...
    np.testing.assert_allclose(result.oof_proba, oof_of(X, y, winner), atol=1e-6)
    assert not np.allclose(result.oof_proba, oof_of(X, y, loser), atol=1e-3)
    # ... so the F1 and profit thresholds are the ones the chosen model's scores call for.
    money = Economics(customer_value=500, offer_cost=50, offer_success_rate=0.3)
    for objective in ("f1", "profit"):
        chosen, _ = choose_threshold(y, result.oof_proba, objective, economics=money)
        expected, _ = choose_threshold(y, oof_of(X, y, winner), objective, economics=money)
        other, _ = choose_threshold(y, oof_of(X, y, loser), objective, economics=money)
        assert chosen == pytest.approx(expected, abs=1e-6) and chosen != pytest.approx(other)
    # Unweighted probabilities average the churn rate; balanced ones are pulled towards 0.5.
    mean = result.oof_proba.mean()
    if winner is None:
        assert mean == pytest.approx(y.mean(), abs=0.02)
    else:
        assert mean > y.mean() + 0.15
    # The final fit on every labeled row keeps the chosen weighting.
    final = refit_all_rows("logistic_regression", result.best_params, StandardScaler(), X, y)
    assert final.named_steps["model"].class_weight == winner


def test_lr_searches_its_weighting_and_the_trees_stay_balanced():
    assert default_search_space("logistic_regression")["model__class_weight"] == [
        "balanced",
        None,
    ]
    # Searched for the trees too, the choice lost test AUC on the pooled BigML table (README).
    for family in ("random_forest", "gradient_boosting", "xgboost"):
        space = default_search_space(family)
        assert "model__class_weight" not in space and "model__scale_pos_weight" not in space


WEIGHTINGS = {
    "random_forest": ("model__class_weight", ["balanced_subsample", None]),
    "gradient_boosting": ("model__class_weight", ["balanced", None]),
    "xgboost": ("model__scale_pos_weight", None),  # negatives / positives, or 1
}


@pytest.mark.parametrize("family", list(WEIGHTINGS))
def test_a_search_space_may_search_a_tree_familys_weighting_and_the_refit_keeps_it(family):
    X, y = two_regions(slope_low=1, region_high=0.1, base_high=-2.0)
    key, choices = WEIGHTINGS[family]
    choices = choices or [balanced_pos_weight(y), 1.0]
    budget = SearchBudget(n_iter=2, cv_folds=3, random_state=1, search_trees=10, refit_trees=10)
    result = train_family(family, StandardScaler(), X, y, budget, {key: choices})
    # Both candidates were tried, and the better one out of fold was kept.
    trials = result.trials
    assert sorted(map(str, trials[key])) == sorted(map(str, choices))
    kept = trials[trials[key].map(str) == str(result.best_params[key])]
    assert kept["mean_roc_auc"].iloc[0] == trials["mean_roc_auc"].max()
    final = refit_all_rows(family, result.best_params, StandardScaler(), X, y)
    fitted = final.named_steps["model"].get_params()
    assert fitted[key.removeprefix("model__")] == result.best_params[key]
