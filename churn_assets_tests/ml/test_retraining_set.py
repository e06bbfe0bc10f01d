"""The retraining set: source rows plus batch rows with outcomes, exact accounting, provenance."""

import pandas as pd
import pytest

from churn_assets.ml.outcomes import merge_outcomes
from churn_assets.ml.retraining_set import assemble
from churn_assets.ml.spec import load_spec
from churn_assets.ml.validation import validate

SPEC = load_spec("synthetic")


def table(ids, churn=None, tenure=10):
    frame = pd.DataFrame(
        {"customer_id": ids, "tenure": tenure, "contract": "One year", "monthly_charges": 50.0}
    )
    if churn is not None:
        frame["churn"] = churn
    return frame


def outcomes(*records):
    frame = pd.DataFrame(records, columns=["id", "churned", "observed_at"]).astype("string")
    ids = {r[0] for r in records}
    return merge_outcomes({"o.csv": frame}, ids).kept


def test_batch_rows_with_outcomes_join_the_source_with_provenance_and_labels():
    source = table(["S1", "S2", "B2"], ["No", "Yes", "No"])
    batches = {"b1.csv": table(["B1", "B2", "B3"], tenure=3), "b0.csv": table(["B1"], tenure=9)}
    found = outcomes(("B1", "1", "2026-02-01"), ("B2", "0", "2026-02-01"))
    result = assemble(source, SPEC, batches, found, window_days=None)
    frame = result.frame.set_index("customer_id")
    assert frame.loc["B1", "churn"] == "Yes" and frame.loc["B2", "churn"] == "No"
    # B1 is in two batches: the last batch in name order gives the row.
    assert frame.loc["B1", "tenure"] == 3 and frame.loc["B1", "_provenance"] == "batch b1.csv"
    assert "B3" not in frame.index  # no outcome yet
    # The source row of B2 is replaced by the newer outcome row, and counted.
    assert frame.loc["B2", "_provenance"] == "batch b1.csv"
    assert frame.loc["S1", "_provenance"] == "source"
    assert (result.source_rows, result.outcome_rows, result.replaced_source_rows) == (3, 2, 1)
    assert len(result.frame) == result.source_rows - result.replaced_source_rows + 2
    assert result.batches == {"batch b1.csv": 2}


def test_the_window_counts_back_from_the_newest_outcome():
    found = outcomes(("B1", "1", "2026-01-01"), ("B2", "0", "2026-03-01"))
    result = assemble(table(["S1"], ["No"]), SPEC, {"b.csv": table(["B1", "B2"])}, found, 30)
    assert result.frame["customer_id"].tolist() == ["S1", "B2"] and result.outside_window == 1


def test_without_outcomes_the_source_is_unchanged_but_for_provenance():
    source = table(["S1"], ["No"])
    result = assemble(source, SPEC, {"b.csv": table(["B1"])}, outcomes(), None)
    assert result.frame.drop(columns="_provenance").equals(source)
    assert result.outcome_rows == 0


def test_provenance_is_carried_through_validation_and_is_never_a_feature():
    source = table(["S1", "S2"], ["No", "Yes"])
    found = outcomes(("B1", "1", "2026-02-01"))
    frame = assemble(source, SPEC, {"b.csv": table(["B1"])}, found, None).frame
    spec = SPEC.model_copy(
        update={"numeric_columns": ["tenure", "monthly_charges"], "ranges": {},
                "categorical_columns": ["contract"], "allowed_categories": {}}
    )  # fmt: skip
    valid = validate(frame, spec).valid
    assert valid["_provenance"].tolist() == ["source", "source", "batch b.csv"]
    assert "_provenance" not in validate(frame, spec).report.types.categorical


def test_a_source_column_named_provenance_is_refused():
    with pytest.raises(ValueError, match="source column '_provenance'"):
        assemble(table(["S1"], ["No"]).assign(_provenance="x"), SPEC, {}, outcomes(), None)
