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
from churn_assets.ml.validation_checks import (
    CHECKS,
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
