import pytest

from churn_assets.ml.spec import SpecError, load_spec


def test_packaged_synthetic_spec_is_the_default():
    spec = load_spec()
    assert spec.name == "synthetic"
    assert spec.source.kind == "synthetic"
    assert spec.id_column == "customer_id" and spec.target_column == "churn"


def test_typo_in_key_names_file_key_and_suggestion(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: x\ntarget_column: churn\npositve_label: 'Yes'\n")
    with pytest.raises(SpecError) as err:
        load_spec(str(path))
    message = str(err.value)
    assert str(path) in message
    assert "positve_label" in message and "did you mean 'positive_label'" in message


def test_typo_in_nested_key_is_named_with_its_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: x\ntarget_column: churn\nsource: {kind: file, pth: a.csv}\n")
    with pytest.raises(SpecError, match=r"source\.pth.*did you mean 'path'"):
        load_spec(str(path))


def test_file_source_needs_a_path_and_sql_needs_url_and_query(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: x\ntarget_column: churn\nsource: {kind: sql, query: t}\n")
    with pytest.raises(SpecError, match="sql_url"):
        load_spec(str(path))


def test_relative_paths_resolve_against_the_spec_and_env_vars_expand(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_DATA", str(tmp_path / "data"))
    path = tmp_path / "specs" / "mine.yaml"
    path.parent.mkdir()
    path.write_text(
        "name: x\ntarget_column: churn\nsource: {kind: file, path: ../t.csv}\n"
        "split:\n  test_path: ${MY_DATA}/test.csv\n"
    )
    spec = load_spec(str(path))
    assert spec.source.path == str(tmp_path / "t.csv")
    assert spec.split.test_path == str(tmp_path / "data" / "test.csv")


def test_unknown_spec_name_lists_the_packaged_ones():
    with pytest.raises(SpecError, match="synthetic"):
        load_spec("no_such_dataset")


def test_spec_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="must be a mapping"):
        load_spec(str(path))


def test_column_cannot_be_both_numeric_and_categorical(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: x\ntarget_column: churn\nnumeric_columns: [a]\ncategorical_columns: [a]\n"
    )
    with pytest.raises(SpecError, match="both numeric and categorical"):
        load_spec(str(path))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{path: mine.csv}",
            "source.path is set but source.kind is 'synthetic' (the default: kind is not set), "
            "which does not read it; set source.kind: file (or kind: url for a URL)",
        ),
        (
            "{kind: synthetic, path: mine.csv}",
            "source.path is set but source.kind is 'synthetic', which does not read it; set "
            "source.kind: file (or kind: url for a URL)",
        ),
        (
            "{kind: file, path: mine.csv, query: customers}",
            "source.query is set but source.kind is 'file', which does not read it; set "
            "source.kind: sql",
        ),
        (
            "{kind: sql, sql_url: 'sqlite:///x.db', query: t, path: mine.csv}",
            "source.path is set but source.kind is 'sql', which does not read it; set "
            "source.kind: file (or kind: url for a URL)",
        ),
    ],
)
def test_a_source_field_its_kind_would_ignore_is_an_error(tmp_path, source, message):
    # `source: {path: mine.csv}` without a kind once generated synthetic rows and succeeded.
    path = tmp_path / "mine.yaml"
    path.write_text(f"name: x\ntarget_column: churn\nsource: {source}\n")
    with pytest.raises(SpecError) as err:
        load_spec(str(path))
    assert message in str(err.value) and str(path) in str(err.value)


def test_each_kind_with_only_its_own_fields_loads(tmp_path):
    for source in (
        "{kind: file, path: mine.csv}",
        "{kind: url, path: 'https://example.com/t.csv'}",
        "{kind: sql, sql_url: 'sqlite:///x.db', query: t}",
        "{kind: synthetic, synthetic: {n_rows: 10}}",
    ):
        path = tmp_path / "mine.yaml"
        path.write_text(f"name: x\ntarget_column: churn\nsource: {source}\n")
        assert load_spec(str(path)).source.kind in source
