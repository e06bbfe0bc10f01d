"""Outcome rows: each rule fails alone with its reason, the newest outcome wins, nothing is lost."""

import pandas as pd
import pytest

from churn_assets.ml.outcomes import OutcomeError, check_columns, merge_outcomes

SCORED = {"C1", "C2", "C3"}


def rows(*records) -> pd.DataFrame:
    return pd.DataFrame(records, columns=["id", "churned", "observed_at"]).astype("string")


def test_clean_rows_are_kept_with_0_1_labels_and_utc_times():
    merged = merge_outcomes(
        {"a.csv": rows(("C1", "Yes", "2026-01-05"), ("C2", " false ", "2026-01-06T10:00:00"))},
        SCORED,
    )
    assert merged.kept["churned"].tolist() == [1, 0]
    assert str(merged.kept["observed_at"].dt.tz) == "UTC"
    assert merged.quarantined.empty and merged.reasons == {} and merged.rows_in == 2


@pytest.mark.parametrize(
    ("record", "rule", "reason"),
    [
        (("", "1", "2026-01-01"), "missing_id", "id is missing"),
        (("C9", "1", "2026-01-01"), "unknown_id", "id 'C9' is in no scored batch"),
        (("C1", "maybe", "2026-01-01"), "bad_label", "churned 'maybe' is not 1/0"),
        (("C1", "1", "last tuesday"), "bad_observed_at", "observed_at 'last tuesday' is not"),
        (("C1", None, "2026-01-01"), "bad_label", "churned '' is not 1/0"),
    ],
)
def test_each_rule_quarantines_its_row_alone_with_the_reason(record, rule, reason):
    good = ("C2", "0", "2026-01-01")
    merged = merge_outcomes({"o.csv": rows(good, record)}, SCORED)
    assert merged.reasons == {rule: 1}
    [bad] = merged.quarantined.to_dict("records")
    assert reason in bad["_reasons"] and bad["outcome_file"] == "o.csv" and bad["outcome_row"] == 1
    assert merged.kept["id"].tolist() == ["C2"]


def test_duplicate_ids_with_different_labels_the_newest_observation_wins():
    old = rows(("C1", "0", "2026-01-01"), ("C2", "1", "2026-03-01"))
    new = rows(("C1", "1", "2026-02-01"), ("C2", "0", "2026-02-01"))
    merged = merge_outcomes({"z_old.csv": old, "a_new.csv": new}, SCORED)
    kept = merged.kept.set_index("id")
    assert kept.loc["C1", "churned"] == 1 and kept.loc["C1", "outcome_file"] == "a_new.csv"
    assert kept.loc["C2", "churned"] == 1 and kept.loc["C2", "outcome_file"] == "z_old.csv"
    assert merged.conflicting_ids == 2 and merged.reasons == {"superseded": 2}
    # Nothing lost: the superseded rows are in the quarantine saying what replaced them.
    assert len(merged.kept) + len(merged.quarantined) == merged.rows_in == 4
    assert merged.quarantined["_reasons"].str.startswith("superseded by the outcome").all()


def test_a_tie_in_time_goes_to_the_later_file_then_the_later_row():
    first = rows(("C1", "0", "2026-01-01"), ("C1", "1", "2026-01-01"))
    merged = merge_outcomes({"a.csv": first, "b.csv": rows(("C1", "0", "2026-01-01"))}, SCORED)
    assert merged.kept[["churned", "outcome_file"]].values.tolist() == [[0, "b.csv"]]
    alone = merge_outcomes({"a.csv": first}, SCORED)
    assert alone.kept[["churned", "outcome_row"]].values.tolist() == [[1, 1]]


def test_a_file_without_the_columns_is_refused_naming_file_and_columns():
    with pytest.raises(OutcomeError, match=r"o\.csv lacks column\(s\) \['observed_at'\]"):
        check_columns(pd.DataFrame({"id": ["C1"], "churned": ["1"]}), "o.csv")


def test_no_files_is_an_empty_result():
    merged = merge_outcomes({}, SCORED)
    assert merged.kept.empty and merged.rows_in == 0
