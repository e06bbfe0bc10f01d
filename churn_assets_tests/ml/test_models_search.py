"""The halving search: seeded rungs, early stopping, a budget that scales with rows, the contract.

Small seeded tables (1,500 rows) and small budgets keep these fast; nothing here asserts time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from xgboost import XGBClassifier

from churn_assets.ml.models import SearchBudget, build_pipeline, train_family
from churn_assets.ml.models.zoo import MAX_BOOSTING_ROUNDS, EarlyStoppingXGBClassifier
from churn_assets_tests.ml.test_models import make_preprocessor, make_telco

ROWS = 1_500


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    return make_telco(ROWS, seed=21)


def test_halving_search_is_seeded_and_reproducible(data):
    X, y = data
    budget = SearchBudget(n_iter=9, cv_folds=3, random_state=4)
    first = train_family("logistic_regression", make_preprocessor(), X, y, budget)
    again = train_family("logistic_regression", make_preprocessor(), X, y, budget)
    pd.testing.assert_frame_equal(
        first.trials.drop(columns=["mean_fit_seconds", "fit_seconds"]),
        again.trials.drop(columns=["mean_fit_seconds", "fit_seconds"]),
    )
    assert first.best_params == again.best_params
    np.testing.assert_array_equal(first.oof_proba, again.oof_proba)
    other = train_family(
        "logistic_regression", make_preprocessor(), X, y, SearchBudget(9, 3, random_state=5)
    )
    assert list(other.trials["model__C"]) != list(first.trials["model__C"])


def test_trials_table_shows_each_rung(data):
    X, y = data
    result = train_family(
        "gradient_boosting", make_preprocessor(), X, y, SearchBudget(n_iter=9, cv_folds=3)
    )
    rungs = result.rungs
    assert list(rungs.columns[:4]) == ["rung", "n_resources", "candidates", "fit_seconds"]
    # 9 candidates on a ninth of the rows, the best 3 on a third, the best 1 on all of them.
    assert list(rungs["candidates"]) == [9, 3, 1]
    assert list(rungs["n_resources"]) == [ROWS // 9, 3 * (ROWS // 9), 9 * (ROWS // 9)]
    assert (rungs["fit_seconds"] > 0).all()
    trials = result.trials
    assert len(trials) == 13 and set(trials["rung"]) == {0, 1, 2}
    # A rung's candidates are the best of the rung before it.
    first, second = trials[trials["rung"] == 0], trials[trials["rung"] == 1]
    kept = set(first.nsmallest(3, "rank")["model__learning_rate"])
    assert set(second["model__learning_rate"]) == kept
    # The chosen parameters are the best of the last rung.
    [winner] = trials.loc[(trials["rung"] == 2) & (trials["rank"] == 1), "model__learning_rate"]
    assert result.best_params["model__learning_rate"] == winner


def test_logistic_regression_is_searched_on_every_row_in_one_rung(data):
    X, y = data
    result = train_family(
        "logistic_regression", make_preprocessor(), X, y, SearchBudget(n_iter=9, cv_folds=3)
    )
    assert list(result.rungs["candidates"]) == [9]
    assert list(result.rungs["n_resources"]) == [ROWS]
    trials = result.trials
    [winner] = trials.loc[trials["rank"] == 1, "model__C"]
    assert result.best_params["model__C"] == winner  # the best of all 9 on all rows


@pytest.mark.parametrize("family", ["gradient_boosting", "xgboost"])
def test_boosters_stop_early(data, family):
    X, y = data
    result = train_family(family, make_preprocessor(), X, y, SearchBudget(n_iter=2, cv_folds=3))
    assert result.trees is not None and 1 <= result.trees < MAX_BOOSTING_ROUNDS
    assert all(1 <= t < MAX_BOOSTING_ROUNDS for t in result.oof_trees)
    model = result.pipeline.named_steps["model"]
    if family == "xgboost":
        # The logged model is a plain XGBClassifier whose n_estimators are the rounds it kept.
        assert type(model) is XGBClassifier
        assert model.n_estimators == result.trees == result.best_params["model__n_estimators"]
        assert model.get_params()["early_stopping_rounds"] is None
    else:
        assert model.n_iter_ == result.trees < model.max_iter


def test_early_stopping_wrapper_holds_out_rows_and_keeps_the_best_round(data):
    X, y = data
    Xt = make_preprocessor().fit_transform(X)
    model = EarlyStoppingXGBClassifier(
        n_estimators=MAX_BOOSTING_ROUNDS, early_stopping_rounds=5, learning_rate=0.3, random_state=0
    ).fit(Xt, y)
    assert model.best_iteration + 1 < MAX_BOOSTING_ROUNDS
    assert "validation_fraction" not in model.get_xgb_params()  # not passed to the booster
    assert clone(model).get_params()["validation_fraction"] == model.validation_fraction


def test_forest_searches_with_fewer_trees_than_it_keeps(data):
    X, y = data
    budget = SearchBudget(n_iter=2, cv_folds=3, search_trees=7, refit_trees=23)
    result = train_family("random_forest", make_preprocessor(), X, y, budget)
    assert result.trees == 23 and result.oof_trees == [23, 23, 23]
    assert result.best_params["model__n_estimators"] == 23
    assert len(result.pipeline.named_steps["model"].estimators_) == 23


def test_forest_trees_shrink_as_the_rows_each_tree_draws_grow(data):
    # Defaults: 500 trees on the BigML 80% file's 2,132 training rows (a small table, where the
    # forest's seed moves its test AUC most), 100 from 16,000 rows on (`make run`), and 100 at
    # 1M rows, where each tree draws the 50,000 rows of `max_search_rows`.
    budget = SearchBudget()
    assert budget.plan(2_132).forest_trees == 500
    assert budget.plan(3_200).forest_trees == 500
    assert budget.plan(8_000).forest_trees == 200
    assert budget.plan(16_000).forest_trees == 100
    assert budget.plan(1_000_000).forest_trees == 100
    # `refit_trees` is a cap: a budget asking for fewer trees gets them on every table.
    assert SearchBudget(refit_trees=23).plan(100).forest_trees == 23
    assert SearchBudget(refit_trees=23).plan(1_000_000).forest_trees == 23
    X, y = data
    # 1,500 rows: 30,000 tree-rows pay for 20 trees, between the floor 10 and the cap 40.
    scaled = SearchBudget(
        n_iter=2, cv_folds=3, refit_trees=40, min_refit_trees=10, forest_tree_rows=30_000
    )
    result = train_family("random_forest", make_preprocessor(), X, y, scaled)
    assert result.trees == 20 and result.oof_trees == [20, 20, 20]
    assert result.best_params["model__n_estimators"] == 20


def test_budget_scales_with_rows(data):
    small = SearchBudget(max_search_rows=10_000).plan(4_000)
    assert (small.search_rows, small.forest_max_samples) == (4_000, None)
    large = SearchBudget(max_search_rows=10_000).plan(1_000_000)
    assert large.search_rows == 10_000 and large.forest_max_samples == pytest.approx(0.01)
    X, y = data
    budget = SearchBudget(n_iter=3, cv_folds=3, max_search_rows=600, refit_trees=10)
    result = train_family("random_forest", make_preprocessor(), X, y, budget)
    # The last rung uses at most 600 rows; each refit tree draws 600 of the 1,500.
    assert result.rungs["n_resources"].max() == 600
    assert result.best_params["model__max_samples"] == pytest.approx(600 / ROWS)
    assert result.pipeline.named_steps["model"].max_samples == pytest.approx(600 / ROWS)
    assert result.oof_proba.shape == (ROWS,)  # every row still gets an out-of-fold score


def test_result_contract_oof_and_cv_metrics_of_the_chosen_parameters(data):
    X, y = data
    # The raw contract (test_calibration.py covers the calibrated one).
    budget = SearchBudget(n_iter=3, cv_folds=3, random_state=2, calibration="none")
    result = train_family("logistic_regression", make_preprocessor(), X, y, budget)
    # oof_proba: the chosen parameters fitted on the same folds, aligned with the rows.
    folds = StratifiedKFold(3, shuffle=True, random_state=2)
    chosen = build_pipeline("logistic_regression", make_preprocessor(), y, 2)
    chosen.set_params(**result.best_params)
    expected = cross_val_predict(chosen, X, y, cv=folds, method="predict_proba")[:, 1]
    np.testing.assert_allclose(result.oof_proba, expected, rtol=1e-9, atol=1e-12)
    # cv_metrics: per fold of those predictions.
    per_fold = [roc_auc_score(y.iloc[test], expected[test]) for _, test in folds.split(X, y)]
    assert result.cv_metrics["cv_roc_auc_mean"] == pytest.approx(np.mean(per_fold))
    assert result.cv_metrics["cv_roc_auc_std"] == pytest.approx(np.std(per_fold))
    # The refit uses every training row with the same parameters.
    refit = clone(chosen).fit(X, y)
    np.testing.assert_allclose(
        result.pipeline.predict_proba(X.head(50)), refit.predict_proba(X.head(50)), rtol=1e-9
    )
