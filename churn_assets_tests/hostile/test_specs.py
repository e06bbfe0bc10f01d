"""Hostile dataset specs: each is refused with the key and the fix, or loads as documented."""

from __future__ import annotations

import re

import pytest

from churn_assets.ml.spec import SpecError, load_spec

HEAD = "name: s\ntarget_column: churn\n"
SPEC_CASES = [
    # (id, YAML text (None: see file_name), message pattern, or None when it must load)
    ("typo_key", HEAD + "target_colum: x\n", r"unknown key 'target_colum'; did you mean 'target_column'\?"),
    ("typo_nested_key", HEAD + "source: {encodng: latin-1}\n", r"unknown key 'source\.encodng'; did you mean 'encoding'\?"),
    ("unknown_encoding", HEAD + "source: {encoding: utf-9}\n", r"source\.encoding 'utf-9' is not a known encoding; did you mean 'utf-8'\?"),
    ("nonsense_encoding", HEAD + "source: {encoding: klingon}\n", r"source\.encoding 'klingon' is not a known encoding"),
    ("multi_char_delimiter", HEAD + "source: {delimiter: '||'}\n", r"source\.delimiter '\|\|' must be one character; .*delimiter_is_regex: true"),
    ("empty_delimiter", HEAD + "source: {delimiter: ''}\n", r"source\.delimiter '' must be one character"),
    ("regex_delimiter_flagged", HEAD + "source: {delimiter: '\\|\\|', delimiter_is_regex: true}\n", None),
    ("two_char_thousands", HEAD + "source: {thousands: ',,'}\n", r"source\.thousands ',,' must be one character"),
    ("thousands_equals_decimal", HEAD + "source: {thousands: ',', decimal: ','}\n", r"source\.thousands and source\.decimal are both ','"),
    ("decimal_equals_delimiter", HEAD + "source: {decimal: ','}\n", r"source\.delimiter and source\.decimal are both ','; .*delimiter: ';' and decimal: ','"),
    ("thousands_equals_delimiter_quoted", HEAD + "source: {thousands: ','}\n", None),
    ("bins_unsorted", HEAD + "bucket_features: {b: {column: t, bins: [24, 12, 48]}}\n", r"'bucket_features\.b': .*bins \[24\.0, 12\.0, 48\.0\] must increase strictly \(e\.g\. \[12\.0, 24\.0, 48\.0\]\)"),
    ("bins_repeated", HEAD + "bucket_features: {b: {column: t, bins: [6, 6]}}\n", r"bins \[6\.0, 6\.0\] must increase strictly"),
    ("bins_single", HEAD + "bucket_features: {b: {column: t, bins: [6]}}\n", r"'bucket_features\.b\.bins': List should have at least 2 items"),
    ("bins_infinite", HEAD + "bucket_features: {b: {column: t, bins: [0, .inf]}}\n", r"bins \[0\.0, inf\] must be finite numbers"),
    ("range_min_above_max", HEAD + "ranges: {tenure: {min: 10, max: 1}}\n", r"'ranges\.tenure': .*min 10\.0 is greater than max 1\.0"),
    ("range_nan_bound", HEAD + "ranges: {tenure: {min: .nan}}\n", r"'ranges\.tenure': .*bound nan is not a finite number"),
    ("range_text_bound", HEAD + "ranges: {tenure: {min: low}}\n", r"'ranges\.tenure\.min': Input should be a valid number"),
    ("id_is_target", HEAD + "id_column: churn\n", r"column 'churn' cannot be both id_column and target_column"),
    ("target_dropped", HEAD + "drop_columns: [churn]\n", r"column 'churn' is the id or target and cannot be dropped"),
    ("numeric_and_categorical", HEAD + "numeric_columns: [a]\ncategorical_columns: [a]\n", r"columns declared both numeric and categorical: \['a'\]"),
    ("file_without_path", HEAD + "source: {kind: file}\n", r"source\.kind 'file' needs source\.path"),
    ("sql_without_query", HEAD + "source: {kind: sql, sql_url: 'sqlite://'}\n", r"source\.kind 'sql' needs source\.sql_url and source\.query"),
    ("unknown_kind", HEAD + "source: {kind: excel}\n", r"'source\.kind': Input should be 'synthetic', 'file', 'url' or 'sql'"),
    ("test_size_above_one", HEAD + "split: {test_size: 1.5}\n", r"'split\.test_size': Input should be less than 1"),
    ("zero_rows", HEAD + "source: {synthetic: {n_rows: 0}}\n", r"'source\.synthetic\.n_rows': Input should be greater than 0"),
    ("no_target", "name: s\n", r"'target_column': Field required"),
    ("not_yaml", HEAD + "source: {kind: file\n", r"is not valid YAML"),
    ("a_list", "- name: s\n", r"must be a mapping, got list"),
    ("empty_spec", "", r"must be a mapping, got NoneType"),
    ("tab_indented", HEAD + "source:\n\tkind: file\n", r"is not valid YAML"),
]  # fmt: skip


@pytest.mark.parametrize(("case_id", "text", "pattern"), SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_hostile_spec(case_id, text, pattern, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    if pattern is None:
        assert load_spec(str(path)).name == "s"
        return
    with pytest.raises(SpecError) as err:
        load_spec(str(path))
    assert str(path) in str(err.value)
    assert re.search(pattern, str(err.value)), str(err.value)


def test_spec_file_without_yaml_suffix_is_read(tmp_path):
    (tmp_path / "myspec").write_text(HEAD)
    assert load_spec(str(tmp_path / "myspec")).target_column == "churn"


def test_spec_directory_is_named(tmp_path):
    with pytest.raises(
        SpecError, match=r"dataset spec .* is a directory; give the spec's YAML file"
    ):
        load_spec(str(tmp_path))


def test_spec_name_that_is_neither_file_nor_packaged():
    with pytest.raises(
        SpecError,
        match=r"no dataset spec named 'myspec': no such file, and no packaged spec of that name "
        r"\(packaged specs: \['bigml_telecom', 'synthetic'\]\)",
    ):
        load_spec("myspec")


def test_missing_yaml_file_is_named(tmp_path):
    with pytest.raises(SpecError, match=r"dataset spec file not found: .*nope\.yaml"):
        load_spec(str(tmp_path / "nope.yaml"))


def test_binary_spec_file_is_named(tmp_path):
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(SpecError, match=r"bin\.yaml cannot be read: 'utf-8' codec can't decode"):
        load_spec(str(tmp_path / "bin.yaml"))
