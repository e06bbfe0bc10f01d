"""Batch scoring: decisions at the threshold, reasons for the chosen rows, the check statistics."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from churn_assets.ml.explain import baseline_values
from churn_assets.ml.scoring import SCORE, ScoredBatch, score_batch


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{seed}-{i}" for i in range(n)],
            "tenure": rng.integers(1, 72, n).astype(float),
            "contract": rng.choice(["monthly", "yearly"], n),
        }
    )


@pytest.fixture(scope="module")
def model():
    train = _frame(400, seed=1)
    y = ((train["tenure"] < 20) | (train["contract"] == "monthly")).astype(int)
    pipeline = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("cat", OneHotEncoder(), ["contract"])], remainder="passthrough"
                ),
            ),
            ("model", LogisticRegression(max_iter=500)),
        ]
    )
    return pipeline.fit(train[["tenure", "contract"]], y)


@pytest.fixture(scope="module")
def baseline(model):
    return baseline_values(_frame(400, seed=1)[["tenure", "contract"]])


def test_scores_decides_at_the_threshold_and_keeps_ids_in_order(model, baseline):
    batch = _frame(50, seed=2)
    proba = model.predict_proba(batch[["tenure", "contract"]])[:, 1]
    threshold = float(np.median(proba))

    scored = score_batch(model, batch, threshold, "7", "customer_id", baseline, "none")

    out = scored.frame
    assert out["customer_id"].tolist() == batch["customer_id"].tolist()
    np.testing.assert_allclose(out[SCORE], proba)
    assert out["churn_predicted"].tolist() == (proba >= threshold).astype(int).tolist()
    assert (out["model_version"] == "7").all() and (out["top_reasons"] == "").all()
    assert scored.predicted_churners == int((proba >= threshold).sum())
    assert scored.mean_score == pytest.approx(proba.mean())
    assert scored.volume_ok and scored.score_range_ok and scored.null_share == 0.0


@pytest.mark.parametrize("reasons_for", ["positives", "all"])
def test_reasons_go_to_the_chosen_rows_whatever_the_batch_index(model, baseline, reasons_for):
    batch = _frame(60, seed=3)
    batch.index = batch.index * 10 + 5  # not 0..n-1: reasons must still land on their row

    out = score_batch(model, batch, 0.5, "1", "customer_id", baseline, reasons_for).frame

    chosen = out["churn_predicted"] == 1 if reasons_for == "positives" else out.index >= 0
    assert (out.loc[~chosen, "top_reasons"] == "").all()
    given = out.loc[chosen, "top_reasons"]
    assert given.notna().all() and (given != "").sum() >= 5
    for row, text in given[given != ""].items():
        tenure = batch["tenure"].iloc[row]
        contract = batch["contract"].iloc[row]
        for part in text.split("; "):
            column, value = part.split(" (")[0].split("=", 1)
            assert value == str({"tenure": tenure, "contract": contract}[column]), (row, part)


def test_an_unknown_reasons_choice_is_refused(model, baseline):
    with pytest.raises(ValueError, match="reasons_for must be one of"):
        score_batch(model, _frame(5, seed=4), 0.5, "1", "customer_id", baseline, "negatives")


def test_the_check_statistics_fail_each_on_their_own_fault():
    good = pd.DataFrame({SCORE: [0.1, 0.9], "churn_predicted": [0, 1]})
    assert ScoredBatch(good, rows_in=2).volume_ok and ScoredBatch(good, 2).score_range_ok

    assert not ScoredBatch(good, rows_in=3).volume_ok  # a row lost
    assert not ScoredBatch(good.iloc[:0], rows_in=0).volume_ok  # nothing scored
    constant = good.assign(**{SCORE: [0.4, 0.4]})
    assert not ScoredBatch(constant, 2).score_range_ok
    outside = good.assign(**{SCORE: [0.1, 1.2]})
    assert not ScoredBatch(outside, 2).score_range_ok
    with_null = good.assign(**{SCORE: [0.1, np.nan]})
    assert ScoredBatch(with_null, 2).null_share == 0.5
    assert ScoredBatch(good.iloc[:0], 0).score_range == "empty"
