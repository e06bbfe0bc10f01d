"""Hostile files: what an attacker or a tired analyst hands the pipeline, and what they must see.

Each row of CASES is one input and its exact outcome (see `corpus.py`). Raw bytes are built in
code so the corpus stays small and fast; only validation runs (no Dagster), as `validate_dataset`
runs it.
"""

from __future__ import annotations

import gzip
import io
import zipfile

import pandas as pd
import pytest

from churn_assets.ml.sources import SourceError
from churn_assets.ml.validation import SchemaError
from churn_assets_tests.hostile.corpus import (
    HEADER,
    Accepted,
    Case,
    Quarantined,
    Raises,
    check_outcome,
    row,
    table,
)

BASE = table()
SEMI = BASE.replace(",", ";")


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _parquet(text: str) -> bytes:
    buffer = io.BytesIO()
    pd.read_csv(io.StringIO(text), dtype={"id": str}).to_parquet(buffer)
    return buffer.getvalue()


def _set(column: int, value: str, at: int = 5):
    """An edit that puts `value` in field `column` of row `at`."""

    def edit(i: int, line: str) -> str:
        if i != at:
            return line
        fields = line.split(",")
        fields[column] = value
        return ",".join(fields)

    return edit


def _kept(result, column: str) -> list:
    return result.valid[column].tolist()


CASES = [
    # --- empty, header-only, encodings, byte-order marks
    Case("empty_file", "", Raises(SourceError, r"data\.csv is empty: no header and no rows")),
    Case("only_blank_lines", "\n\n  \n", Raises(SourceError, r"data\.csv is empty")),
    Case(
        "header_only", HEADER + "\n", Raises(SourceError, r"has a header \(5 columns\) but no rows")
    ),
    Case(
        "header_only_with_bom",
        "\ufeff" + HEADER + "\n",
        Raises(SourceError, r"data\.csv has a header \(5 columns\) but no rows"),
    ),
    Case(
        "utf8_bom_before_the_id_header",
        "\ufeff" + BASE,
        Accepted("the BOM is not part of the 'id' name", lambda r: "id" in r.valid.columns),
    ),
    Case(
        "latin1_without_encoding",
        (BASE + "41,5,9.5,caf\xe9,No\n").encode("latin-1"),
        Raises(SourceError, r"not valid utf-8: byte 0xe9 .*\(line 42\); set source\.encoding"),
    ),
    Case(
        "latin1_declared",
        (BASE + "41,5,9.5,caf\xe9,No\n").encode("latin-1"),
        Accepted("café read", lambda r: "café" in set(r.valid["plan"])),
        spec={"source": {"encoding": "latin-1"}},
    ),
    Case(
        "utf16_declared",
        BASE.encode("utf-16"),
        Accepted("utf-16 with its BOM", lambda r: r.report.rows_kept == 40),
        spec={"source": {"encoding": "utf-16"}},
    ),
    Case(
        "utf16_undeclared_is_binary_looking",
        BASE.encode("utf-16"),
        Raises(SourceError, r"data\.csv is binary data, not a text table"),
    ),
    Case(
        "png_named_csv",
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        Raises(SourceError, r"data\.csv is binary data, not a text table"),
    ),
    # --- line endings, quoting, delimiters
    Case("crlf", BASE.replace("\n", "\r\n"), Accepted("CRLF", lambda r: r.report.rows_kept == 40)),
    Case(
        "mixed_line_endings",
        BASE.replace("\n", "\r\n", 20),
        Accepted("CRLF and LF mixed", lambda r: r.report.rows_kept == 40),
    ),
    Case(
        "old_mac_cr_only",
        BASE.replace("\n", "\r"),
        Accepted("CR-only line ends", lambda r: r.report.rows_kept == 40),
    ),
    Case(
        "quoted_newline_in_cell",
        table(edit=_set(3, '"multi\nline"')),
        Accepted(
            "a quoted newline stays in the cell", lambda r: "multi\nline" in set(r.valid["plan"])
        ),
    ),
    Case(
        "quoted_delimiter_in_cell",
        table(edit=_set(3, '"pro, annual"')),
        Accepted(
            "a quoted comma stays in the cell", lambda r: "pro, annual" in set(r.valid["plan"])
        ),
    ),
    Case(
        "unbalanced_quote",
        table(edit=_set(3, '"pro')),
        Raises(SourceError, r"data\.csv is not a well-formed CSV"),
    ),
    Case(
        "trailing_delimiter_everywhere",
        BASE.replace("\n", ",\n"),
        Accepted(
            "no empty extra column",
            lambda r: list(r.valid.columns)[:5] == ["id", "churned", "tenure", "charges", "plan"],
        ),
    ),
    Case(
        "trailing_delimiter_on_rows_only",
        table(edit=lambda i, line: line + ","),
        Accepted("columns not shifted", lambda r: _kept(r, "plan")[:3] == ["pro", "max", "basic"]),
    ),
    Case(
        "value_beyond_the_header",
        table(edit=lambda i, line: line + (",99" if i == 7 else "")),
        Raises(
            SourceError, r"data\.csv is not a well-formed CSV: .*Expected 5 fields in line 8, saw 6"
        ),
    ),
    Case(
        "short_row_missing_target",
        table("41,5"),
        Quarantined("missing_target", "target is missing"),
    ),
    Case(
        "trailing_blank_lines",
        BASE + "\n\n\n",
        Accepted("blank lines are not rows", lambda r: r.report.rows_in == 40),
    ),
    Case(
        "comment_line_above_header",
        "# exported 2024-01-01\n" + BASE,
        Raises(SourceError, r"data\.csv line 2 has 5 fields but the header has 1"),
    ),
    Case(
        "wrong_delimiter",
        SEMI,
        Raises(SchemaError, r"single column: set source\.delimiter \(e\.g\. ';'\)"),
    ),
    Case(
        "semicolon_declared",
        SEMI,
        Accepted("';' files", lambda r: r.report.rows_kept == 40),
        spec={"source": {"delimiter": ";"}},
    ),
    Case(
        "tab_separated_declared",
        BASE.replace(",", "\t"),
        Accepted("tab files", lambda r: r.report.rows_kept == 40),
        spec={"source": {"delimiter": "\t"}},
    ),
    Case(
        "double_pipe_as_regex",
        BASE.replace(",", "||"),
        Accepted("'||' split as a regex when flagged", lambda r: r.report.rows_kept == 40),
        spec={"source": {"delimiter": r"\|\|", "delimiter_is_regex": True}},
    ),
    Case(
        "huge_cell",
        table(edit=_set(3, "x" * 1_000_000)),
        Accepted(
            "a 1 MB cell is kept whole as text",
            lambda r: r.valid["plan"].str.len().max() == 1_000_000,
        ),
    ),
    Case(
        "formula_injection_kept_as_text",
        table(edit=_set(3, "=cmd|' /C calc'!A0")),
        Accepted(
            "never evaluated; stored as text",
            lambda r: "=cmd|' /C calc'!A0" in set(r.valid["plan"]),
        ),
    ),
    Case(
        "unicode_and_spaces_in_header",
        table(header="id, tenure ,charges,plän 💡,churn"),
        Accepted(
            "names stripped, unicode kept", lambda r: {"tenure", "plän 💡"} <= set(r.valid.columns)
        ),
    ),
    # --- NUL bytes
    Case(
        "nul_in_category",
        table(edit=_set(3, "Fi\x00ber")),
        Quarantined("nul_byte", "column 'plan': value contains a NUL byte"),
    ),
    Case(
        "nul_in_id",
        table(edit=_set(0, "1\x002")),
        Quarantined("nul_byte", "column 'id': value contains a NUL byte"),
    ),
    # --- headers and internal names
    Case(
        "duplicate_header",
        table(header="id,tenure,tenure,plan,churn"),
        Raises(
            SourceError,
            r"duplicate column names \(after stripping spaces\): 'tenure' at columns \[2, 3\]",
        ),
    ),
    Case(
        "duplicate_header_after_stripping",
        table(header="id,tenure,tenure ,plan,churn"),
        Raises(SourceError, r"'tenure' at columns \[2, 3\]; rename them in the source"),
    ),
    Case(
        "values_under_an_empty_header",
        table(header="id,tenure,,plan,churn"),
        Raises(SourceError, r"values in column\(s\) \[3\] with no header name"),
    ),
    Case(
        "two_empty_headers_found_by_hypothesis",
        table(header="id,,,plan,churn"),
        Raises(SourceError, r"values in column\(s\) \[2, 3\] with no header name"),
    ),
    Case(
        "source_column_named_churned",
        table(header="id,tenure,churned,plan,churn", edit=_set(2, "1")),
        Raises(
            SchemaError, r"source column 'churned' has the name the pipeline gives the 0/1 target"
        ),
    ),
    Case(
        "target_named_churned_is_mapped",
        table(header="id,tenure,charges,plan,churned"),
        Accepted("the mapped target keeps its labels", lambda r: r.valid["churned"].sum() == 10),
        spec={"target_column": "churned"},
    ),
    Case(
        "row_id_without_id_column",
        table(header="row_id,tenure,charges,plan,churn"),
        Raises(
            SchemaError, r"source column 'row_id' has the name the pipeline gives the row-number id"
        ),
        spec={"id_column": None},
    ),
    Case(
        "row_id_as_the_id_column",
        table(header="row_id,tenure,charges,plan,churn"),
        Accepted(
            "its own ids, not renumbered", lambda r: r.valid["row_id"].tolist()[:2] == ["1", "2"]
        ),
        spec={"id_column": "row_id"},
    ),
    Case(
        "column_named_split",
        table(header="id,tenure,split,plan,churn"),
        Raises(
            SchemaError,
            r"source column 'split' has the name the pipeline gives the "
            r"train/test split; rename it in the source or add it to drop_columns",
        ),
    ),
    Case(
        "column_named_split_dropped",
        table(header="id,tenure,split,plan,churn"),
        Accepted("dropped, so not a feature", lambda r: "split" not in r.report.types.numeric),
        spec={"drop_columns": ["split"]},
    ),
    Case(
        "column_named_source_row",
        table(header="id,tenure,_source_row,plan,churn"),
        Raises(
            SchemaError,
            r"source column '_source_row' has the name the pipeline gives the "
            r"source row number; rename it in the source$",
        ),
    ),
    Case(
        "column_named_reasons",
        table(header="id,tenure,_reasons,plan,churn"),
        Raises(SchemaError, r"source column '_reasons'"),
        spec={"drop_columns": ["_reasons"]},
    ),
    Case(
        "column_named_source_split",
        table(header="id,tenure,_source_split,plan,churn"),
        Raises(
            SchemaError,
            r"source column '_source_split' has the name the pipeline gives the test file's rows",
        ),
    ),
    Case(
        "engineered_name_is_a_source_column",
        BASE,
        Raises(
            SchemaError, r"engineered feature name\(s\) \['charges'\] are already source columns"
        ),
        spec={"ratio_features": {"charges": ["charges", "tenure"]}},
    ),
    # --- numbers: separators, non-finite, overflow
    Case(
        "thousands_inferred_without_option",
        table(edit=lambda i, line: line.replace(f"{20 + i}.5", f'"1,{100 + i}.5"')),
        Raises(
            SchemaError,
            r"column 'charges' holds numbers with separators \(e\.g\. "
            r"'1,1\d\d\.5'\) .*set source\.thousands: ','",
        ),
    ),
    Case(
        "thousands_with_option",
        table(edit=lambda i, line: line.replace(f"{20 + i}.5", f'"1,{100 + i}.5"')),
        Accepted("1,101.5 is 1101.5", lambda r: _kept(r, "charges")[0] == 1101.5),
        spec={"source": {"thousands": ","}},
    ),
    Case(
        "thousands_declared_numeric_without_option",
        table(edit=_set(2, '"1,695.0"')),
        Quarantined(
            "not_numeric",
            "column 'charges': value '1,695.0' is not numeric (set "
            "source.thousands: ',' in the dataset spec)",
        ),
        spec={"numeric_columns": ["tenure", "charges"]},
    ),
    Case(
        "decimal_comma_semicolon_file",
        SEMI.replace(".5;", ",00;"),
        Accepted("21,00 is 21.0", lambda r: _kept(r, "charges")[0] == 21.0),
        spec={"source": {"delimiter": ";", "decimal": ","}},
    ),
    Case(
        "decimal_comma_without_option",
        SEMI.replace(".5;", ",25;"),
        Raises(
            SchemaError,
            r"column 'charges' holds numbers with separators \(e\.g\. "
            r"'\d+,25'\).*set source\.decimal: ','",
        ),
        spec={"source": {"delimiter": ";"}},
    ),
    Case(
        "european_thousands_and_decimal",
        SEMI.replace(".5;", ".000,5;"),
        Accepted("21.000,5 is 21000.5", lambda r: _kept(r, "charges")[0] == 21000.5),
        spec={"source": {"delimiter": ";", "thousands": ".", "decimal": ","}},
    ),
    Case(
        "inf",
        table(edit=_set(2, "inf")),
        Quarantined("non_finite", "column 'charges': value 'inf' is not a finite number"),
    ),
    Case(
        "minus_inf",
        table(edit=_set(2, "-inf")),
        Quarantined("non_finite", "column 'charges': value '-inf' is not a finite number"),
    ),
    Case(
        "infinity_word",
        table(edit=_set(2, "Infinity")),
        Quarantined("non_finite", "column 'charges': value 'inf' is not a finite number"),
    ),
    Case(
        "overflow_1e309",
        table(edit=_set(2, "1e309")),
        Quarantined("non_finite", "column 'charges': value '1e309' is not a finite number"),
    ),
    Case(
        "overflow_in_declared_text_column",
        table(edit=_set(2, "-1e400")),
        Quarantined("non_finite", "column 'charges': value '-1e400' is not a finite number"),
        spec={"numeric_columns": ["tenure", "charges"]},
    ),
    Case(
        "excel_error_value",
        table(edit=_set(2, "#VALUE!")),
        Quarantined("not_numeric", "column 'charges': value '#VALUE!' is not numeric"),
    ),
    Case(
        "nan_literal_is_missing",
        table(edit=_set(2, "NaN")),
        Accepted(
            "'NaN' is a missing value, not text", lambda r: r.valid["charges"].isna().sum() == 1
        ),
    ),
    Case(
        "plus_sign_and_spaces",
        table(edit=_set(2, " +21.5 ")),
        Accepted("' +21.5 ' parses", lambda r: 21.5 in _kept(r, "charges")),
    ),
    Case(
        "negative_zero",
        table(edit=_set(1, "-0")),
        Accepted("-0 is 0", lambda r: 0.0 in _kept(r, "tenure")),
    ),
    Case(
        "out_of_range",
        table(edit=_set(1, "500")),
        Quarantined("out_of_range", "column 'tenure': 500.0 outside [0.0, 120.0]"),
        spec={"ranges": {"tenure": {"min": 0, "max": 120}}},
    ),
    Case(
        "range_on_a_text_column",
        BASE,
        Raises(SchemaError, r"range declared for column 'plan', which is not a numeric feature"),
        spec={"ranges": {"plan": {"min": 0}}},
    ),
    Case(
        "one_blank_numeric_cell",
        table(edit=_set(2, "")),
        Accepted(
            "kept; the missing-values check names it",
            lambda r: r.report.missing_rate["charges"] == 1 / 40,
        ),
    ),
    # --- ids
    Case(
        "ids_with_leading_zeros",
        table("007,3,9.5,pro,No"),
        Accepted("'007' and '7' are different ids", lambda r: {"007", "7"} <= set(r.valid["id"])),
    ),
    Case(
        "whitespace_only_id",
        table(edit=_set(0, "   ")),
        Quarantined("missing_id", "id is missing"),
    ),
    Case(
        "duplicate_id",
        table("2,9,9.5,pro,Yes"),
        Quarantined("duplicate_id", "duplicate id '2' (first at row 1)"),
    ),
    Case(
        "duplicate_id_after_stripping",
        table(" 2 ,9,9.5,pro,Yes"),
        Quarantined("duplicate_id", "duplicate id '2' (first at row 1)"),
    ),
    Case(
        "id_column_missing",
        table(header="key,tenure,charges,plan,churn"),
        Raises(SchemaError, r"id column 'id' is not in the table"),
    ),
    # --- targets and labels
    Case(
        "target_all_negative",
        table(edit=lambda i, line: line.replace(",Yes", ",No")),
        Raises(SchemaError, r"target column 'churn' never has the positive label 'Yes'"),
    ),
    Case(
        "target_all_positive",
        table(edit=lambda i, line: line.replace(",No", ",Yes")),
        Raises(SchemaError, r"target column 'churn' must be binary, but has 1 values"),
    ),
    Case(
        "target_three_values",
        table("41,5,9.5,pro,Maybe"),
        Raises(
            SchemaError,
            r"target column 'churn' must be binary, but has 3 values.*declare negative_labels",
        ),
    ),
    Case(
        "unknown_label_with_declared_negatives",
        table("41,5,9.5,pro,Maybe"),
        Quarantined("invalid_target", "target 'churn' value 'maybe' is not a known label"),
        spec={"negative_labels": ["No"]},
    ),
    Case(
        "mixed_case_and_spaced_labels",
        table(
            edit=lambda i, line: (
                line.replace(",Yes", ", YES") if i % 8 == 0 else line.replace(",No", ",no ")
            )
        ),
        Accepted(
            "labels compare case- and space-insensitively", lambda r: r.valid["churned"].sum() == 10
        ),
    ),
    Case(
        "numeric_target_1_0",
        table(edit=lambda i, line: line.replace(",Yes", ",1").replace(",No", ",0")),
        Accepted("1/0 with positive_label '1'", lambda r: r.valid["churned"].sum() == 10),
        spec={"positive_label": "1"},
    ),
    Case(
        "float_target_1_0",
        table(edit=lambda i, line: line.replace(",Yes", ",1.0").replace(",No", ",0.0")),
        Accepted("1.0 equals label '1'", lambda r: r.valid["churned"].sum() == 10),
        spec={"positive_label": "1"},
    ),
    Case(
        "empty_quoted_target",
        table('41,5,9.5,pro,""'),
        Quarantined("missing_target", "target is missing"),
    ),
    Case(
        "whitespace_target",
        table("41,5,9.5,pro,   "),
        Quarantined("missing_target", "target is missing"),
    ),
    Case(
        "target_column_missing",
        table(header="id,tenure,charges,plan,label"),
        Raises(SchemaError, r"target column 'churn' is not in the table .*set target_column"),
    ),
    Case(
        "only_id_and_target",
        "id,churn\n" + "".join(f"{i},{'Yes' if i % 2 else 'No'}\n" for i in range(9)),
        Raises(SchemaError, r"no feature columns besides the id and target"),
    ),
    # --- declared columns, categories, dates
    Case(
        "declared_column_missing",
        BASE,
        Raises(SchemaError, r"declared columns \['tenur'\] are not in the table"),
        spec={"numeric_columns": ["tenur"]},
    ),
    Case(
        "category_not_allowed",
        table(edit=_set(3, "gold")),
        Quarantined(
            "not_allowed_category",
            "column 'plan': 'gold' not in allowed categories ['basic', 'pro', 'max']",
        ),
        spec={"allowed_categories": {"plan": ["basic", "pro", "max"]}},
    ),
    Case(
        "date_unparseable",
        table(
            header=HEADER + ",signup",
            edit=lambda i, line: line + (",not a date" if i == 3 else f",2024-01-{i % 28 + 1:02d}"),
        ),
        Quarantined("invalid_date", "date column 'signup' missing or unparseable"),
        spec={"date_column": "signup"},
    ),
    Case(
        "date_column_missing",
        BASE,
        Raises(SchemaError, r"date column 'signup' is not in the table"),
        spec={"date_column": "signup"},
    ),
    # --- containers sniffed by magic bytes
    Case(
        "gzip_csv",
        gzip.compress(BASE.encode()),
        Accepted("gzip read", lambda r: r.report.rows_kept == 40),
        name="data.csv.gz",
    ),
    Case(
        "gzip_named_csv",
        gzip.compress(BASE.encode()),
        Accepted("sniffed, not named", lambda r: r.report.rows_kept == 40),
    ),
    Case(
        "truncated_gzip",
        gzip.compress(BASE.encode())[:60],
        Raises(SourceError, r"data\.csv is a damaged or truncated gzip file"),
    ),
    Case(
        "xlsx_named_csv",
        _zip({"[Content_Types].xml": "<x/>", "xl/workbook.xml": "<w/>"}),
        Raises(
            SourceError,
            r"data\.csv is an Excel workbook \(\.xlsx\), not CSV; save the sheet as CSV",
        ),
    ),
    Case(
        "legacy_xls",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512),
        Raises(SourceError, r"data\.xls is a legacy Excel workbook \(\.xls\)"),
        name="data.xls",
    ),
    Case(
        "zip_with_one_csv",
        _zip({"export/data.csv": BASE}),
        Accepted("the one CSV read", lambda r: r.report.rows_kept == 40),
        name="data.zip",
    ),
    Case(
        "zip_with_two_files",
        _zip({"a.csv": BASE, "b.csv": BASE}),
        Raises(SourceError, r"data\.zip is a zip archive with 2 files \['a\.csv', 'b\.csv'\]"),
        name="data.zip",
    ),
    Case(
        "parquet_named_csv",
        _parquet(BASE),
        Accepted("sniffed by PAR1", lambda r: r.report.rows_kept == 40),
    ),
    Case(
        "corrupt_parquet",
        b"PAR1 not really",
        Raises(SourceError, r"data\.csv is not a readable Parquet file"),
        name="data.csv",
    ),
    # --- locations
    Case(
        "missing_file",
        None,
        Raises(SourceError, r"source file not found: .*nowhere\.csv"),
        name="nowhere.csv",
    ),
    Case(
        "directory_as_source",
        None,
        Raises(SourceError, r"source path .* is a directory; source\.path must name a file"),
        spec={"source": {"path": "."}},
    ),
    Case(
        "file_url",
        BASE,
        Accepted("file:// read as a local path", lambda r: r.report.rows_kept == 40),
        spec={"source": {"kind": "url", "path": "file://{folder}/data.csv"}},
    ),
    Case(
        "ftp_url",
        None,
        Raises(
            SourceError,
            r"unsupported URL scheme 'ftp://'; supported are local paths and "
            r"http://, https://, s3://, file://",
        ),
        spec={"source": {"kind": "url", "path": "ftp://example.org/data.csv"}},
    ),
    Case(
        "s3_url_without_key",
        None,
        Raises(SourceError, r"s3://bucket-only: an S3 location needs a bucket and a key"),
        spec={"source": {"kind": "url", "path": "s3://bucket-only"}},
    ),
    Case(
        "test_file_with_other_columns",
        BASE,
        Raises(
            SourceError,
            r"test\.csv does not have the training file's columns \(differing: "
            r"\['charges', 'fee'\]\)",
        ),
        spec={"split": {"test_path": "test.csv"}},
        extra_files={"test.csv": table(header="id,tenure,fee,plan,churn")},
    ),
    Case(
        "test_file_header_only",
        BASE,
        Raises(SourceError, r"test\.csv has a header \(5 columns\) but no rows"),
        spec={"split": {"test_path": "test.csv"}},
        extra_files={"test.csv": HEADER + "\n"},
    ),
    Case(
        "test_file_read_and_marked",
        BASE,
        Accepted("test rows marked", lambda r: (r.valid["_source_split"] == "test").sum() == 10),
        spec={"split": {"test_path": "test.csv"}},
        extra_files={"test.csv": "\n".join([HEADER, *(row(i) for i in range(41, 51))]) + "\n"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_file(case: Case, tmp_path):
    check_outcome(case, tmp_path)


def test_corpus_ids_are_unique():
    assert len({c.id for c in CASES}) == len(CASES)
