import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from churn_assets.ml.synthetic import (
    churn_logit,
    generate_synthetic,
    iter_synthetic,
    write_synthetic,
)
from churn_assets.ml.synthetic.customers import interaction_logit


def test_same_seed_same_table_whatever_the_chunk_size():
    a = generate_synthetic(120_000, seed=7, fault_rate=0.01)
    b = pd.concat(iter_synthetic(120_000, seed=7, fault_rate=0.01, chunk_rows=30_000))
    pd.testing.assert_frame_equal(a, b.reset_index(drop=True))
    c = generate_synthetic(120_000, seed=8, fault_rate=0.01)
    assert not a["tenure"].equals(c["tenure"])


def test_chunks_are_bounded():
    sizes = [len(c) for c in iter_synthetic(260_000, chunk_rows=100_000)]
    assert sum(sizes) == 260_000
    assert max(sizes) <= 100_000 + 50_000  # at most one generation block over the chunk size


@pytest.mark.parametrize("rate", [0.1, 0.26, 0.5])
def test_churn_rate_is_configurable(rate):
    frame = generate_synthetic(40_000, churn_rate=rate, seed=3)
    assert abs((frame["churn"] == "Yes").mean() - rate) < 0.02


def test_churn_depends_on_the_columns_and_is_learnable_but_not_perfect():
    frame = generate_synthetic(30_000, seed=11)
    y = (frame["churn"] == "Yes").astype(int)
    oracle = roc_auc_score(y, churn_logit(frame))
    assert 0.85 <= oracle <= 0.93
    X = pd.get_dummies(
        frame.drop(columns=["customer_id", "churn", "total_charges"]), drop_first=True
    ).astype(float)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    model = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    assert 0.80 <= auc < 0.95


def test_faults_are_injected_at_about_the_requested_rate():
    clean = generate_synthetic(50_000, seed=5, fault_rate=0.0)
    faulty = generate_synthetic(50_000, seed=5, fault_rate=0.05)
    assert clean["customer_id"].is_unique and clean["churn"].notna().all()
    assert (clean["tenure"] >= 0).all()
    bad_strings = faulty["total_charges"].isin(["n/a", "#VALUE!", "12,5"]).sum()
    faults = (
        faulty["customer_id"].duplicated().sum()
        + faulty["churn"].isna().sum()
        + (faulty["tenure"] < 0).sum()
        + bad_strings
        + faulty[["monthly_charges", "contract", "payment_method"]].isna().any(axis=1).sum()
    )
    assert 0.035 * 50_000 < faults < 0.065 * 50_000
    assert bad_strings > 0


def test_drift_profile_moves_the_inputs():
    base = generate_synthetic(20_000, seed=1)
    drifted = generate_synthetic(20_000, seed=1, drift="strong")
    assert drifted["tenure"].mean() < 0.7 * base["tenure"].mean()
    assert drifted["monthly_charges"].mean() > base["monthly_charges"].mean() + 10
    assert (drifted["contract"] == "Month-to-month").mean() > (
        base["contract"] == "Month-to-month"
    ).mean() + 0.15


def test_total_charges_is_text_with_blanks_for_new_customers():
    frame = generate_synthetic(5_000, seed=2)
    assert frame["total_charges"].map(type).eq(str).all()
    new = frame["tenure"] == 0
    assert new.any() and (frame.loc[new, "total_charges"] == " ").all()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n_rows"):
        generate_synthetic(0)
    with pytest.raises(ValueError, match="drift profile"):
        generate_synthetic(10, drift="huge")


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_write_streams_to_file(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    assert write_synthetic(path, 70_000, seed=4, fault_rate=0.01, chunk_rows=20_000) == 70_000
    back = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    assert len(back) == 70_000
    assert np.array_equal(
        back["tenure"].to_numpy(),
        generate_synthetic(70_000, seed=4, fault_rate=0.01)["tenure"].to_numpy(),
    )


def test_the_interactions_churn_function_is_a_different_table_trees_learn_better():
    default = generate_synthetic(20_000, seed=11)
    explicit = generate_synthetic(20_000, seed=11, churn_function="logistic")
    pd.testing.assert_frame_equal(default, explicit)  # the default is unchanged
    frame = generate_synthetic(20_000, seed=11, churn_function="interactions")
    pd.testing.assert_frame_equal(frame.drop(columns="churn"), default.drop(columns="churn"))
    assert not frame["churn"].equals(default["churn"])
    assert abs((frame["churn"] == "Yes").mean() - 0.26) < 0.02
    y = (frame["churn"] == "Yes").astype(int)
    assert 0.80 <= roc_auc_score(y, interaction_logit(frame)) <= 0.95
    assert roc_auc_score(y, churn_logit(frame)) < roc_auc_score(y, interaction_logit(frame)) - 0.05
    X = pd.get_dummies(
        frame.drop(columns=["customer_id", "churn", "total_charges"]), drop_first=True
    ).astype(float)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    linear = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    trees = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)
    linear_auc = roc_auc_score(y_test, linear.predict_proba(X_test)[:, 1])
    trees_auc = roc_auc_score(y_test, trees.predict_proba(X_test)[:, 1])
    assert trees_auc > linear_auc + 0.02, (trees_auc, linear_auc)


def test_an_unknown_churn_function_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown churn function 'cubic'; choose one of"):
        generate_synthetic(10, churn_function="cubic")
