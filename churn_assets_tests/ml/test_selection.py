"""The choice among candidates rests on out-of-fold evidence; the holdout only breaks ties."""

import math

import pytest

from churn_assets.ml.evaluation import select_best, select_by_oof, selection_table


def cv(auc: float, std: float = 0.01) -> dict:
    return {"cv_roc_auc_mean": auc, "cv_roc_auc_std": std}


def test_out_of_fold_evidence_wins_where_the_holdout_disagrees():
    # As on the BigML table: the forest looks best on ~530 holdout rows, boosting on ~2,100
    # out-of-fold rows.
    oof = {"random_forest": cv(0.925), "gradient_boosting": cv(0.934), "xgboost": cv(0.932)}
    holdout = {
        "random_forest": {"roc_auc": 0.885, "pr_auc": 0.7},
        "gradient_boosting": {"roc_auc": 0.879, "pr_auc": 0.7},
        "xgboost": {"roc_auc": 0.868, "pr_auc": 0.7},
    }
    assert select_best(holdout) == "random_forest"  # the old rule
    assert select_by_oof(oof, holdout) == "gradient_boosting"


def test_the_holdout_breaks_a_tie_of_the_evidence_then_the_name():
    oof = {"b": cv(0.9), "a": cv(0.9), "c": cv(0.9)}
    assert select_by_oof(oof, {"a": {"roc_auc": 0.8}, "b": {"roc_auc": 0.85}, "c": {}}) == "b"
    assert select_by_oof(oof, {"a": {"roc_auc": 0.8}, "b": {"roc_auc": 0.8}, "c": {}}) == "a"


def test_missing_or_nan_evidence_ranks_last_or_is_refused():
    holdout = {"a": {"roc_auc": 0.9}, "b": {"roc_auc": 0.7}}
    assert select_by_oof({"a": cv(math.nan), "b": cv(0.6)}, holdout) == "b"
    with pytest.raises(ValueError, match="'a' has no out-of-fold evidence 'cv_roc_auc_mean'"):
        select_by_oof({"a": {"cv_f1_mean": 0.5}, "b": cv(0.6)}, holdout)


def test_mismatched_or_empty_candidates_are_refused():
    with pytest.raises(ValueError, match="name different candidates"):
        select_by_oof({"a": cv(0.9)}, {"b": {"roc_auc": 0.9}})
    with pytest.raises(ValueError, match="no candidates"):
        select_by_oof({}, {})


def test_the_selection_table_ranks_as_the_choice_and_marks_it():
    oof = {"lr": cv(0.83, 0.02), "hgb": cv(0.93, 0.01), "rf": cv(0.92, 0.015)}
    holdout = {"lr": {"roc_auc": 0.75}, "hgb": {"roc_auc": 0.88}, "rf": {"roc_auc": 0.89}}
    table = selection_table(oof, holdout)
    assert table["candidate"].tolist() == ["hgb", "rf", "lr"]
    assert table["chosen"].tolist() == [True, False, False]
    assert table.loc[0, "oof_roc_auc"] == 0.93 and table.loc[1, "holdout_roc_auc"] == 0.89
    assert table.loc[2, "oof_roc_auc_std"] == 0.02
