"""Each blocking data-quality check fails alone on a table made to fail it, and only it.

The tables are small and built so that exactly one rate crosses its default threshold; the exact
set of failed checks is asserted, so a check that stops computing (`accounted = True`, missing
rates of zero) breaks a test here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn_assets.defs.validation import ValidationConfig, quality_checks
from churn_assets.ml.spec import DatasetSpec
from churn_assets.ml.validation import ROW_COLUMN, validate
from churn_assets.ml.validation_base import ColumnTypes, ValidationReport
from churn_assets.ml.validation_checks import (
    CHECKS,
    CheckOutcome,
    Thresholds,
    evaluate_checks,
    rows_accounted,
)

N = 200
LIMITS = Thresholds(**ValidationConfig().model_dump())
SPEC = DatasetSpec(
    name="t",
    id_column="id",
    target_column="churn",
    numeric_columns=["tenure", "charges", "calls"],
    categorical_columns=["plan"],
)


def frame(**changes) -> pd.DataFrame:
    """200 clean rows: unique ids, 25% churners, four complete feature columns."""
    rng = np.random.default_rng(3)
    data = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(N)],
            "tenure": rng.integers(0, 70, N).astype(float),
            "charges": rng.uniform(20, 120, N).round(2),
            "calls": rng.integers(0, 9, N).astype(float),
            "plan": rng.choice(["basic", "pro"], N),
            "churn": np.where(np.arange(N) % 4 == 0, "Yes", "No"),
        }
    )
    for column, edit in changes.items():
        data[column] = edit(data[column].copy())
    return data


def failed(data: pd.DataFrame, kept=None) -> set[str]:
    result = validate(data, SPEC)
    kept_rows = result.valid[ROW_COLUMN].to_numpy() if kept is None else kept
    outcomes = evaluate_checks(
        result.report, len(data), kept_rows, result.quarantined[ROW_COLUMN].to_numpy(), LIMITS
    )
    assert {o.name for o in outcomes} == set(CHECKS)
    return {o.name for o in outcomes if not o.passed}


def _every(step: int, value):
    def edit(column: pd.Series) -> pd.Series:
        column = column.astype(object)
        column.iloc[::step] = value
        return column

    return edit


def test_clean_table_passes_every_check():
    assert failed(frame()) == set()


def test_schema_compliance_alone():
    assert failed(frame(charges=_every(10, "n/a"))) == {"schema_compliance"}  # 10% unparseable


def test_missing_values_alone():
    def blank(column):  # 35% missing in one of four features
        column.iloc[: int(N * 0.35)] = np.nan
        return column

    assert failed(frame(calls=blank)) == {"missing_values"}


def test_duplicate_ids_alone():
    def repeat(ids):  # 6% of rows repeat an earlier id
        ids.iloc[-12:] = ids.iloc[:12].to_numpy()
        return ids

    assert failed(frame(id=repeat)) == {"duplicate_ids"}


def test_target_balance_alone():
    def one_churner(labels):
        return pd.Series(["Yes"] + ["No"] * (N - 1), index=labels.index)

    assert failed(frame(churn=one_churner)) == {"target_balance"}


def test_row_accounting_alone():
    data = frame()
    kept = np.arange(N)
    kept[5] = 4  # row 4 twice, row 5 never: same count, wrong rows
    assert failed(data, kept=kept) == {"row_accounting"}


def test_quality_score_alone():
    def quarter_blank(column):  # 25% missing in every feature: each under 30%, score 75
        column = column.astype(object)
        column.iloc[: N // 4] = None
        return column

    blanks = dict.fromkeys(["tenure", "charges", "calls", "plan"], quarter_blank)
    data = frame(**blanks)
    assert validate(data, SPEC).report.quality_score == 75.0
    assert failed(data) == {"quality_score"}


def test_missing_rates_are_measured_per_column():
    def blank(column):
        column.iloc[:50] = np.nan
        return column

    report = validate(frame(calls=blank), SPEC).report
    assert report.missing_rate == {"tenure": 0.0, "charges": 0.0, "calls": 0.25, "plan": 0.0}


@pytest.mark.parametrize(
    ("kept", "quarantined", "expected"),
    [
        ([0, 1, 2], [3], True),
        ([0, 1], [3], False),  # a row lost
        ([0, 1, 2], [2, 3], False),  # a row on both sides
        ([0, 1, 1], [3], False),  # same count, one row twice and one never
        ([0, 1, 2, 3], [4], False),  # a row that was never in the source
    ],
)
def test_row_accounting_compares_row_numbers_not_counts(kept, quarantined, expected):
    assert rows_accounted(4, np.array(kept), np.array(quarantined)) is expected


def test_dagster_results_carry_the_failing_column_and_threshold():
    data = frame(charges=_every(10, "n/a"))
    result = validate(data, SPEC)
    checks = quality_checks(
        result.report, N, result.valid[ROW_COLUMN], result.quarantined[ROW_COLUMN],
        ValidationConfig(),
    )  # fmt: skip
    [schema] = [c for c in checks if not c.passed]
    assert schema.check_name == "schema_compliance"
    assert schema.metadata["worst_column"].value == "charges"
    assert schema.metadata["observed"].value == pytest.approx(0.1)
    assert schema.metadata["threshold"].value == 0.05


def _report(**changes) -> ValidationReport:
    figures = {
        "rows_in": 10,
        "rows_kept": 8,
        "rows_quarantined": 2,
        "reasons": {"not_numeric": 2},
        "missing_rate": {"tenure": 0.125, "plan": 0.25, "calls": 0.1234567},
        "invalid_values": {"tenure": 1, "calls": 2},
        "duplicate_ids": 1,
        "positive_rate": 0.375,
        "types": ColumnTypes(["tenure", "calls"], ["plan"]),
        "quality_score": 63.28,
    }
    return ValidationReport(**{**figures, **changes})


EXACT = Thresholds(
    max_invalid_rate=0.2,
    max_missing_rate=0.25,
    max_duplicate_rate=0.1,
    min_positive_rate=0.375,
    max_positive_rate=0.5,
    min_quality_score=63.28,
)
KEPT, QUARANTINED = np.array([0, 1, 2, 3, 5, 6, 8, 9]), np.array([7, 4])


def test_every_outcome_is_exact_and_a_rate_at_its_threshold_passes():
    # every observed value sits exactly on its threshold: each comparison must include it
    got = evaluate_checks(_report(), 10, KEPT, QUARANTINED, EXACT)
    assert got == [
        CheckOutcome(
            "schema_compliance", True, 0.2, 0.2, "calls",
            {"invalid_values": {"tenure": 1, "calls": 2}},
        ),
        CheckOutcome(
            "missing_values", True, 0.25, 0.25, "plan",
            {"missing_rate": {"tenure": 0.125, "plan": 0.25, "calls": 0.12346}},  # 5 decimals
        ),
        CheckOutcome("duplicate_ids", True, 0.1, 0.1, None, {"duplicate_rows": 1}),
        CheckOutcome("target_balance", True, 0.375, "[0.375, 0.5]"),
        CheckOutcome(
            "row_accounting", True, 10, 10, None,
            {"rows_in": 10, "rows_kept": 8, "rows_quarantined": 2},
        ),
        CheckOutcome(
            "quality_score", True, 63.28, 63.28, None,
            {"formula": "100 x kept/rows_in x (1 - mean missing-cell rate of feature columns)"},
        ),
    ]  # fmt: skip
    assert [type(o.observed) for o in got] == [float, float, float, float, int, float]
    top = _report(positive_rate=0.5)  # the upper bound of the balance is included too
    assert evaluate_checks(top, 10, KEPT, QUARANTINED, EXACT)[3].passed


@pytest.mark.parametrize(
    ("changes", "fails"),
    [
        ({"invalid_values": {"tenure": 3, "calls": 2}}, "schema_compliance"),
        ({"missing_rate": {"tenure": 0.26, "plan": 0.25}}, "missing_values"),
        ({"duplicate_ids": 2}, "duplicate_ids"),
        ({"positive_rate": 0.37}, "target_balance"),
        ({"positive_rate": 0.51}, "target_balance"),
        ({"quality_score": 63.27}, "quality_score"),
    ],
)
def test_a_rate_just_past_its_threshold_fails_its_check_alone(changes, fails):
    got = evaluate_checks(_report(**changes), 10, KEPT, QUARANTINED, EXACT)
    assert {o.name for o in got if not o.passed} == {fails}


def test_the_worst_column_is_reported_and_an_empty_table_has_none():
    got = evaluate_checks(_report(missing_rate={"a": 0.5, "b": 0.75, "c": 0.5}), 10, KEPT,
                          QUARANTINED, EXACT)  # fmt: skip
    assert (got[1].column, got[1].observed, got[1].passed) == ("b", 0.75, False)
    empty = _report(rows_in=0, invalid_values={"tenure": 0}, missing_rate={}, duplicate_ids=0)
    got = evaluate_checks(empty, 0, np.array([], int), np.array([], int), EXACT, labeled=False)
    assert [o.name for o in got] == [n for n in CHECKS if n != "target_balance"]
    assert [(o.column, o.observed) for o in got[:2]] == [(None, 0.0), (None, 0.0)]
    assert all(type(o.observed) is float for o in got[:2])
    assert got[3].passed and got[3].observed == 0
