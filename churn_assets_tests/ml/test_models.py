"""Tests of the model zoo and search in `churn_assets.ml.models` on a seeded telco-like table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from xgboost import XGBClassifier

from churn_assets.ml.models import (
    FAMILIES,
    SearchBudget,
    TrainResult,
    build_pipeline,
    default_search_space,
    train_family,
)

NUMERIC = ["tenure", "monthly_charges", "total_charges", "noise"]
CATEGORICAL = ["contract", "internet_service", "paperless_billing"]
METRICS = ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "brier", "log_loss")

# Tiny spaces keep the determinism test fast while still exercising every family's search.
SMALL_SPACES = {
    "logistic_regression": {"model__C": loguniform(1e-2, 10.0)},
    "random_forest": {"model__n_estimators": [30, 40], "model__max_depth": [4, None]},
    "gradient_boosting": {"model__max_iter": [30, 40], "model__learning_rate": [0.1, 0.2]},
    "xgboost": {"model__n_estimators": [30, 40], "model__max_depth": [2, 3]},
}


def make_telco(n_rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Telco-like rows whose churn follows a known logistic model (churn rate ~30%)."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 73, n_rows)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], n_rows, p=[0.55, 0.25, 0.2])
    internet = rng.choice(["dsl", "fiber", "none"], n_rows, p=[0.35, 0.45, 0.2])
    paperless = rng.choice(["yes", "no"], n_rows)
    monthly = np.round(rng.normal(65, 20, n_rows).clip(18, 120), 2)
    total = np.round(tenure * monthly + rng.normal(0, 50, n_rows), 2)
    total[rng.random(n_rows) < 0.02] = np.nan
    logit = (
        -1.9
        + 1.6 * (contract == "month-to-month")
        - 0.8 * (contract == "two-year")
        - 0.045 * (tenure - 24)
        + 0.02 * (monthly - 65)
        + 0.7 * (internet == "fiber")
        + 0.3 * (paperless == "yes")
    )
    churn = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame(
        {
            "tenure": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "noise": rng.normal(size=n_rows),
            "contract": contract,
            "internet_service": internet,
            "paperless_billing": paperless,
        }
    )
    return X, pd.Series(churn, name="churn")


def make_preprocessor() -> ColumnTransformer:
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    return ColumnTransformer([("num", numeric, NUMERIC), ("cat", categorical, CATEGORICAL)])


@pytest.fixture(scope="module")
def split() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    X, y = make_telco(3000, seed=7)
    return X.iloc[:2000], y.iloc[:2000], X.iloc[2000:], y.iloc[2000:]


@pytest.fixture(scope="module")
def trained(split) -> dict[str, TrainResult]:
    X_train, y_train, _, _ = split
    budget = SearchBudget(n_iter=2, cv_folds=3, random_state=0)
    return {f: train_family(f, make_preprocessor(), X_train, y_train, budget) for f in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_learns_the_signal(trained, split, family):
    _, y_train, X_test, y_test = split
    result = trained[family]
    assert result.family == family
    holdout_auc = roc_auc_score(y_test, result.pipeline.predict_proba(X_test)[:, 1])
    assert holdout_auc > 0.7
    assert 0.7 < result.cv_metrics["cv_roc_auc_mean"] <= 1.0
    assert result.oof_proba.shape == (len(y_train),)
    assert ((result.oof_proba >= 0) & (result.oof_proba <= 1)).all()
    # Out-of-fold probabilities rank churners above non-churners like the CV score says.
    assert roc_auc_score(y_train, result.oof_proba) > 0.7
    assert result.fit_seconds > 0


@pytest.mark.parametrize("family", FAMILIES)
def test_result_tables_are_complete_and_json_able(trained, family):
    result = trained[family]
    expected = {f"cv_{m}_{s}" for m in METRICS for s in ("mean", "std")}
    assert set(result.cv_metrics) == expected
    # Brier and log loss are reported as losses (positive), not as sklearn's negated scores.
    assert 0 < result.cv_metrics["cv_brier_mean"] < 0.25
    assert result.cv_metrics["cv_log_loss_mean"] > 0
    json.dumps(result.best_params)
    # The searched parameters, plus what the refit fixed (forest size, XGBoost's kept rounds).
    refit_only = {"random_forest": {"model__n_estimators", "model__max_samples"}}
    refit_only["xgboost"] = {"model__n_estimators"}
    assert set(result.best_params) == set(default_search_space(family)) | refit_only.get(
        family, set()
    )
    assert len(result.trials) == 2  # two candidates: one rung
    assert list(result.trials["trial"]) == [0, 1]
    assert sorted(result.trials["rank"]) in ([1, 2], [1, 1])
    for column in ("rung", "n_resources", "mean_roc_auc", "std_roc_auc", "fit_seconds"):
        assert column in result.trials
    assert list(result.pipeline.named_steps) == ["preprocess", "model"]


def test_build_pipeline_configures_each_estimator():
    y = pd.Series([0] * 30 + [1] * 10)
    pipelines = {f: build_pipeline(f, make_preprocessor(), y, random_state=3) for f in FAMILIES}
    lr = pipelines["logistic_regression"].named_steps["model"]
    assert isinstance(lr, LogisticRegression)
    assert lr.class_weight == "balanced" and lr.solver == "lbfgs" and lr.max_iter >= 1000
    rf = pipelines["random_forest"].named_steps["model"]
    assert isinstance(rf, RandomForestClassifier)
    assert rf.class_weight == "balanced_subsample" and rf.random_state == 3
    hgb = pipelines["gradient_boosting"].named_steps["model"]
    assert isinstance(hgb, HistGradientBoostingClassifier)
    assert hgb.class_weight == "balanced" and hgb.random_state == 3
    assert hgb.early_stopping is True  # the number of trees is found, not searched
    # HistGradientBoosting needs dense input, so its preprocessor never returns sparse output.
    assert pipelines["gradient_boosting"].named_steps["preprocess"].sparse_threshold == 0.0
    xgb = pipelines["xgboost"].named_steps["model"]
    assert isinstance(xgb, XGBClassifier)
    assert xgb.get_params()["scale_pos_weight"] == pytest.approx(3.0)
    assert xgb.get_params()["n_jobs"] == 1 and xgb.get_params()["random_state"] == 3


def test_build_pipeline_clones_the_preprocessor():
    preprocessor = make_preprocessor()
    pipeline = build_pipeline("logistic_regression", preprocessor, [0, 1], random_state=0)
    assert pipeline.named_steps["preprocess"] is not preprocessor


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown model family 'svm'.*logistic_regression"):
        default_search_space("svm")
    with pytest.raises(ValueError, match="unknown model family"):
        build_pipeline("svm", make_preprocessor(), [0, 1], random_state=0)


@pytest.mark.parametrize("family", FAMILIES)
def test_training_is_deterministic(family):
    X, y = make_telco(800, seed=11)
    budget = SearchBudget(n_iter=2, cv_folds=3, random_state=5)
    first = train_family(family, make_preprocessor(), X, y, budget, SMALL_SPACES[family])
    second = train_family(family, make_preprocessor(), X, y, budget, SMALL_SPACES[family])
    assert first.cv_metrics == second.cv_metrics
    assert first.best_params == second.best_params
    np.testing.assert_array_equal(first.oof_proba, second.oof_proba)
    np.testing.assert_array_equal(
        first.pipeline.predict_proba(X.head(50)), second.pipeline.predict_proba(X.head(50))
    )


def test_one_class_target_is_refused_with_counts():
    X, _ = make_telco(60, seed=1)
    with pytest.raises(ValueError, match=r"only one class \(class 0: 60 rows\)"):
        train_family("logistic_regression", make_preprocessor(), X, pd.Series([0] * 60))


def test_too_few_minority_rows_for_the_folds_is_refused():
    X, _ = make_telco(60, seed=1)
    y = pd.Series([1] * 3 + [0] * 57)
    with pytest.raises(ValueError, match=r"minority class 1 has 3 rows, fewer than cv_folds=5"):
        train_family("logistic_regression", make_preprocessor(), X, y, SearchBudget(cv_folds=5))


def test_non_binary_labels_and_misaligned_rows_are_refused():
    X, _ = make_telco(60, seed=1)
    with pytest.raises(ValueError, match="must be 0/1"):
        train_family("logistic_regression", make_preprocessor(), X, pd.Series(["yes", "no"] * 30))
    with pytest.raises(ValueError, match="60 rows but y_train has 59"):
        train_family("logistic_regression", make_preprocessor(), X, pd.Series([0, 1] * 29 + [0]))


def test_boolean_target_is_accepted():
    X, y = make_telco(300, seed=2)
    result = train_family(
        "logistic_regression",
        make_preprocessor(),
        X,
        y.astype(bool),
        SearchBudget(n_iter=1, cv_folds=3),
    )
    assert result.oof_proba.shape == (300,)


def test_convergence_warning_is_reported_not_lost():
    X, y = make_telco(400, seed=3)
    result = train_family(
        "logistic_regression",
        make_preprocessor(),
        X,
        y,
        SearchBudget(n_iter=1, cv_folds=3),
        search_space={"model__max_iter": [2]},
    )
    assert result.warnings, "a 2-iteration lbfgs fit must report that it did not converge"
    assert all(w.startswith("ConvergenceWarning") for w in result.warnings)
    assert "converge" in result.warnings[0]


def test_converged_model_reports_no_warning(trained):
    assert trained["logistic_regression"].warnings == []


def test_search_budget_is_validated():
    with pytest.raises(ValueError, match="cv_folds must be >= 2"):
        SearchBudget(cv_folds=1)
    with pytest.raises(ValueError, match="n_iter must be >= 1"):
        SearchBudget(n_iter=0)
    with pytest.raises(ValueError, match="threads must be >= 1 or None"):
        SearchBudget(threads=0)
    with pytest.raises(ValueError, match="min_refit_trees must be >= 1"):
        SearchBudget(min_refit_trees=0)
    with pytest.raises(ValueError, match="forest_tree_rows must be >= 1"):
        SearchBudget(forest_tree_rows=0)
