"""Broken inputs a new user brings: each gets a clear error naming file, column and rule, or its
rows go to quarantine with a reason."""

import http.server
import sqlite3
import threading

import pandas as pd
import pytest

from churn_assets.ml.sources import SourceError
from churn_assets.ml.spec import DatasetSpec, SourceSpec
from churn_assets.ml.validation import SchemaError, validate
from churn_assets.resources.dataset import DatasetResource

GOOD = "id,tenure,plan,churn\n1,5,basic,Yes\n2,40,pro,No\n3,12,basic,No\n4,3,pro,Yes\n"


def load_table(spec: DatasetSpec) -> pd.DataFrame:
    return DatasetResource().load_table(spec)


def file_spec(path, **kwargs) -> DatasetSpec:
    kwargs.setdefault("id_column", "id")
    kwargs.setdefault("target_column", "churn")
    source = {"kind": "file", "path": str(path)}
    source.update(kwargs.pop("source", {}))
    return DatasetSpec(name="t", source=SourceSpec(**source), **kwargs)


def load_and_validate(tmp_path, text: str | bytes, name="data.csv", **kwargs):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    spec = file_spec(path, **kwargs)
    return validate(load_table(spec), spec), path


def test_empty_file(tmp_path):
    with pytest.raises(SourceError, match=r"data\.csv is empty: no header and no rows"):
        load_and_validate(tmp_path, "")


def test_header_only(tmp_path):
    with pytest.raises(SourceError, match=r"data\.csv has a header \(4 columns\) but no rows"):
        load_and_validate(tmp_path, "id,tenure,plan,churn\n")


def test_missing_file_is_named(tmp_path):
    spec = file_spec(tmp_path / "nope.csv")
    with pytest.raises(SourceError, match=r"source file not found: .*nope\.csv"):
        load_table(spec)


def test_no_target_column(tmp_path):
    with pytest.raises(SchemaError, match=r"target column 'churn' is not in the table"):
        load_and_validate(tmp_path, "id,tenure,plan\n1,5,basic\n")


def test_target_with_three_values_is_refused_unless_negatives_are_declared(tmp_path):
    text = GOOD + "5,7,pro,Maybe\n"
    with pytest.raises(SchemaError, match=r"'churn' must be binary, but has 3 values"):
        load_and_validate(tmp_path, text)
    result, _ = load_and_validate(tmp_path, text, negative_labels=["No"])
    assert result.report.rows_quarantined == 1
    assert "target 'churn' value 'maybe' is not a known label" in result.quarantined["_reasons"][0]


def test_positive_label_that_never_appears(tmp_path):
    with pytest.raises(SchemaError, match=r"never has the positive label 'Churned'"):
        load_and_validate(tmp_path, GOOD, positive_label="Churned")


def test_all_null_column_is_reported_by_its_missing_rate(tmp_path):
    text = "id,tenure,empty,churn\n1,5,,Yes\n2,40,,No\n3,1,,No\n"
    result, _ = load_and_validate(tmp_path, text)
    assert result.report.missing_rate["empty"] == 1.0
    assert result.report.types.how["empty"].endswith("(all values missing)")


def test_text_in_numeric_column_goes_to_quarantine_with_column_and_value(tmp_path):
    text = "".join(f"{i},{i},basic,{'Yes' if i % 2 else 'No'}\n" for i in range(1, 40))
    result, _ = load_and_validate(tmp_path, "id,tenure,plan,churn\n" + text + "40,abc,pro,No\n")
    assert result.report.rows_quarantined == 1
    assert result.quarantined["_reasons"][0] == "column 'tenure': value 'abc' is not numeric"
    assert result.report.types.how["tenure"].startswith("inferred numeric")


def test_duplicate_ids_keep_the_first_and_quarantine_the_rest(tmp_path):
    result, _ = load_and_validate(tmp_path, GOOD + "2,9,pro,Yes\n")
    assert result.report.duplicate_ids == 1
    assert result.quarantined["_reasons"][0] == "duplicate id '2' (first at row 1)"
    assert result.valid["id"].tolist() == ["1", "2", "3", "4"]


def test_non_utf8_bytes_name_the_offset_and_the_fix(tmp_path):
    text = (GOOD + "5,7,caf\xe9,No\n").encode("latin-1")
    with pytest.raises(SourceError, match=r"not valid utf-8: byte 0xe9 at offset \d+ \(line 6\)"):
        load_and_validate(tmp_path, text)
    result, _ = load_and_validate(tmp_path, text, source={"encoding": "latin-1"})
    assert "café" in set(result.valid["plan"])


def test_one_column_csv_suggests_the_delimiter(tmp_path):
    text = "id;tenure;churn\n1;3;Yes\n2;5;No\n"
    with pytest.raises(SchemaError, match=r"single column: set source.delimiter") as err:
        load_and_validate(tmp_path, text)
    assert "['id;tenure;churn']" in str(err.value)
    result, _ = load_and_validate(tmp_path, text, source={"delimiter": ";"})
    assert result.report.rows_kept == 2


def test_only_id_and_target_is_refused(tmp_path):
    with pytest.raises(SchemaError, match="no feature columns"):
        load_and_validate(tmp_path, "id,churn\n1,Yes\n2,No\n")


def test_crlf_blanks_flags_and_true_false_target(tmp_path):
    text = (
        "id,tenure,charges,senior,partner,churn\r\n"
        "a,5, ,0,Yes,True\r\n"
        "b,40,100.5,1,No,False\r\n"
        "c,3,12,0,No,True\r\n"
    )
    result, _ = load_and_validate(tmp_path, text, positive_label="True")
    assert result.report.rows_quarantined == 0
    assert result.valid["churned"].tolist() == [1, 0, 1]
    assert pd.isna(result.valid["charges"][0]) and result.valid["charges"][1] == 100.5
    assert result.valid["partner"].tolist() == ["Yes", "No", "No"]  # no trailing '\r'
    assert set(result.report.types.numeric) >= {"tenure", "charges", "senior"}


def _serve(tmp_path):
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_url_source_and_404(tmp_path):
    (tmp_path / "data.csv").write_text(GOOD)
    server = _serve(tmp_path)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        spec = DatasetSpec(
            name="u",
            source=SourceSpec(kind="url", path=f"{base}/data.csv"),
            id_column="id",
            target_column="churn",
        )
        assert len(load_table(spec)) == 4
        missing = spec.model_copy(
            update={"source": SourceSpec(kind="url", path=f"{base}/missing.csv")}
        )
        with pytest.raises(SourceError, match=r"could not fetch .*/missing\.csv: HTTP 404"):
            load_table(missing)
    finally:
        server.shutdown()


def test_sql_source_and_failing_query(tmp_path):
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        pd.read_csv(pd.io.common.StringIO(GOOD)).to_sql("customers", conn, index=False)
    spec = DatasetSpec(
        name="s",
        source=SourceSpec(kind="sql", sql_url=f"sqlite:///{db}", query="customers"),
        id_column="id",
        target_column="churn",
    )
    assert len(load_table(spec)) == 4
    bad = spec.model_copy(
        update={
            "source": SourceSpec(kind="sql", sql_url=f"sqlite:///{db}", query="SELECT * FROM nope")
        }
    )
    with pytest.raises(
        SourceError,
        match=r"SQL source sqlite:///.*crm\.db failed for query 'SELECT \* FROM nope': "
        r"no such table: nope",
    ):
        load_table(bad)


def test_sql_password_is_not_echoed(tmp_path):
    spec = DatasetSpec(
        name="s",
        source=SourceSpec(kind="sql", sql_url="postgresql://u:s3cret@127.0.0.1:1/db", query="t"),
        target_column="churn",
    )
    with pytest.raises(SourceError) as err:
        load_table(spec)
    assert "s3cret" not in str(err.value) and "***" in str(err.value)


def test_parquet_file_source(tmp_path):
    pd.read_csv(pd.io.common.StringIO(GOOD)).to_parquet(tmp_path / "d.parquet")
    result, _ = load_and_validate(tmp_path, (tmp_path / "d.parquet").read_bytes(), name="e.parquet")
    assert result.report.rows_kept == 4


def test_corrupt_parquet_is_named(tmp_path):
    with pytest.raises(SourceError, match=r"bad\.parquet is not a readable Parquet file"):
        load_and_validate(tmp_path, b"PAR1 not really", name="bad.parquet")
