"""Hostile inputs that need more than a file and a spec: permissions, SQL, tiny tables, batches."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from churn_assets.ml.features import split_rows
from churn_assets.ml.sources import NUL_MARK, SourceError
from churn_assets.ml.spec import DatasetSpec, SourceSpec
from churn_assets.ml.validation import REASONS_COLUMN, validate
from churn_assets.resources.dataset import DatasetResource
from churn_assets_tests.hostile.corpus import Case, Quarantined, run_case, table

NUL_ROW = 5


def test_nul_byte_value_is_quarantined_whole_never_truncated(tmp_path):
    text = table(edit=lambda i, line: line.replace(",basic,", ",Fi\x00ber,") if i == 3 else line)
    result = run_case(Case("nul", text, Quarantined("nul_byte", "")), tmp_path)
    assert result.quarantined["plan"].tolist() == [f"Fi{NUL_MARK}ber"]
    assert result.quarantined[REASONS_COLUMN].tolist() == [
        "column 'plan': value contains a NUL byte"
    ]
    assert "Fi" not in set(result.valid["plan"])  # never a truncated 'Fi' category


def test_unreadable_file_names_the_problem(tmp_path, monkeypatch):
    path = tmp_path / "locked.csv"
    path.write_text(table())

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)  # root reads any mode, so simulate it
    spec = DatasetSpec(
        name="t", target_column="churn", source=SourceSpec(kind="file", path=str(path))
    )
    with pytest.raises(SourceError, match=r"locked\.csv cannot be read: permission denied"):
        DatasetResource().load_table(spec)


def _sql_spec(db: Path, query: str) -> DatasetSpec:
    source = SourceSpec(kind="sql", sql_url=f"sqlite:///{db}", query=query)
    return DatasetSpec(name="s", target_column="churn", source=source)


def test_sql_query_with_duplicate_column_names_is_refused(tmp_path):
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE c (id TEXT, tenure INT, churn TEXT)")
        conn.execute("INSERT INTO c VALUES ('1', 3, 'Yes')")
    spec = _sql_spec(db, "SELECT id, tenure, tenure, churn FROM c")
    with pytest.raises(SourceError, match=r"duplicate column names .*'tenure' at columns \[2, 3\]"):
        DatasetResource().load_table(spec)


def test_sql_query_with_no_rows_is_named(tmp_path):
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE c (id TEXT, tenure INT, churn TEXT)")
    with pytest.raises(
        SourceError, match=r"sql\(sqlite:///.*crm\.db\): c has a header \(3 columns\)"
    ):
        DatasetResource().load_table(_sql_spec(db, "c"))


def test_five_row_table_gets_a_clear_message_before_the_split():
    raw = pd.DataFrame({"tenure": [1, 2, 3, 4, 5], "churn": ["Yes", "No", "Yes", "No", "No"]})
    spec = DatasetSpec(name="t", target_column="churn")
    valid = validate(raw, spec).valid
    with pytest.raises(ValueError, match=r"cannot split: .*\(5 rows, test_size 0\.2\).*more rows"):
        split_rows(valid, spec)


def test_unlabeled_batch_rows_are_kept_with_missing_target():
    raw = pd.DataFrame({"tenure": [1.0, 2.0, 3.0], "churn": ["Yes", None, "maybe"]})
    spec = DatasetSpec(name="t", target_column="churn", negative_labels=["No"])
    result = validate(raw, spec, require_target=False)
    assert result.valid["churned"].tolist() == [1, pd.NA]
    assert result.quarantined[REASONS_COLUMN].tolist() == [
        "target 'churn' value 'maybe' is not a known label"
    ]


def test_infinity_in_a_parquet_float_column_is_quarantined(tmp_path):
    frame = pd.DataFrame(
        {"tenure": [1.0, float("inf"), 3.0, float("-inf")], "churn": ["Yes", "No", "No", "Yes"]}
    )
    result = validate(frame, DatasetSpec(name="t", target_column="churn"))
    assert result.report.reasons == {"non_finite": 2}
    assert result.quarantined[REASONS_COLUMN].tolist() == [
        "column 'tenure': value 'inf' is not a finite number",
        "column 'tenure': value '-inf' is not a finite number",
    ]
