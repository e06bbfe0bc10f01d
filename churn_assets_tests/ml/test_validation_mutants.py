"""Validation details the other tests left loose, pinned exactly (README "Reliability: faults and
mutation testing"): the whole-table errors and their fixes, the validated table's columns and
order, the report's rates and score, and `typed_columns`."""

import numpy as np
import pandas as pd
import pytest

from churn_assets.ml.sources import SPLIT_COLUMN
from churn_assets.ml.spec import DatasetSpec
from churn_assets.ml.validation import (
    REASONS_COLUMN,
    ROW_COLUMN,
    TARGET,
    SchemaError,
    typed_columns,
    validate,
)

SPEC = DatasetSpec(
    name="t",
    id_column="id",
    target_column="churn",
    numeric_columns=["tenure"],
    categorical_columns=["plan"],
)


def table(**changes) -> pd.DataFrame:
    data = {
        "id": ["a", "b", "c", "d"],
        "tenure": ["1", "", "30", "x"],
        "plan": ["basic", None, "pro", "pro"],
        "churn": ["Yes", "No", "No", "Yes"],
    }
    data.update(changes)
    return pd.DataFrame(data)


def refused(raw: pd.DataFrame, spec: DatasetSpec = SPEC, **kwargs) -> str:
    with pytest.raises(SchemaError) as raised:
        validate(raw, spec, **kwargs)
    return str(raised.value)


def test_a_missing_target_names_the_columns_and_the_fix():
    raw = table().drop(columns="churn")
    assert refused(raw) == (
        "target column 'churn' is not in the table (columns: ['id', 'tenure', 'plan']); "
        "set target_column in the dataset spec"
    )
    one = pd.DataFrame({"id;tenure;churn": ["a;1;Yes"]})
    assert refused(one) == (
        "target column 'churn' is not in the table (columns: ['id;tenure;churn']); "
        "the file has a single column: set source.delimiter (e.g. ';') in the spec"
    )
    for sep in "\t|":
        assert "set source.delimiter" in refused(pd.DataFrame({f"id{sep}churn": ["a"]}))
    # one column without any separator in its name: the target is simply missing
    assert refused(pd.DataFrame({"MAX": ["a"]})).endswith("set target_column in the dataset spec")
    assert refused(pd.DataFrame({"idtenure": ["a"]})).endswith(
        "set target_column in the dataset spec"
    )
    # two columns, one holding ';': not the single-column case
    assert refused(pd.DataFrame({"a;b": ["1"], "c": ["2"]})).endswith(
        "set target_column in the dataset spec"
    )


def test_the_pipelines_own_columns_are_not_listed_and_do_not_hide_a_one_column_file():
    # raw_dataset adds the training set's provenance (and a publisher's split) to every table
    from churn_assets.ml.validation_base import PROVENANCE

    one_column = (
        "target column 'churn' is not in the table (columns: ['id;tenure;churn']); "
        "the file has a single column: set source.delimiter (e.g. ';') in the spec"
    )
    for added in (PROVENANCE, SPLIT_COLUMN):
        assert refused(pd.DataFrame({"id;tenure;churn": ["a;1;Yes"], added: ["x"]})) == one_column
    with_provenance = table().assign(**{PROVENANCE: "source", SPLIT_COLUMN: "train"})
    assert refused(with_provenance.drop(columns="churn")) == (
        "target column 'churn' is not in the table (columns: ['id', 'tenure', 'plan']); "
        "set target_column in the dataset spec"
    )
    assert refused(with_provenance.drop(columns="id")) == (
        "id column 'id' is not in the table (columns: ['tenure', 'plan', 'churn']); "
        "set id_column in the dataset spec, or remove it to use row numbers"
    )
    dated = SPEC.model_copy(update={"date_column": "signup"})
    assert refused(with_provenance, dated) == (
        "date column 'signup' is not in the table (columns: ['id', 'tenure', 'plan', 'churn']); "
        "fix date_column in the dataset spec"
    )


def test_an_unlabeled_batch_without_the_target_is_validated():
    result = validate(table().drop(columns="churn"), SPEC, require_target=False)
    assert TARGET not in result.valid and result.report.positive_rate == 0.0
    assert result.report.rows_in == 4


def test_a_missing_id_or_date_column_names_the_fix():
    assert refused(table().drop(columns="id")) == (
        "id column 'id' is not in the table (columns: ['tenure', 'plan', 'churn']); "
        "set id_column in the dataset spec, or remove it to use row numbers"
    )
    dated = SPEC.model_copy(update={"date_column": "signup"})
    assert refused(table(), dated) == (
        "date column 'signup' is not in the table (columns: ['id', 'tenure', 'plan', 'churn']); "
        "fix date_column in the dataset spec"
    )


def test_a_table_with_only_id_and_target_is_refused():
    spec = DatasetSpec(name="t", id_column="id", target_column="churn")
    raw = pd.DataFrame({"id": ["a", "b"], "churn": ["Yes", "No"]})
    assert refused(raw, spec) == (
        "the table has no feature columns besides the id and target (columns: ['id', 'churn'])"
    )


def test_the_validated_table_has_its_columns_in_order_and_the_report_its_figures():
    result = validate(table(), SPEC)
    valid, report = result.valid, result.report
    assert list(valid.columns) == ["id", TARGET, "tenure", "plan", ROW_COLUMN]
    assert valid["id"].tolist() == ["a", "b", "c"] and valid[ROW_COLUMN].tolist() == [0, 1, 2]
    assert valid[TARGET].tolist() == [1, 0, 0]
    assert valid["tenure"].tolist()[0::2] == [1.0, 30.0] and np.isnan(valid["tenure"][1])
    assert (report.rows_in, report.rows_kept, report.rows_quarantined) == (4, 3, 1)
    assert report.reasons == {"not_numeric": 1}
    assert report.invalid_values == {"tenure": 1} and report.duplicate_ids == 0
    assert report.missing_rate == {"tenure": pytest.approx(1 / 3), "plan": pytest.approx(1 / 3)}
    assert report.positive_rate == pytest.approx(1 / 3)
    assert report.quality_score == round(100 * 3 / 4 * (1 - 1 / 3), 2) == 50.0
    assert list(result.quarantined.columns) == [ROW_COLUMN, "id", "tenure", "plan", "churn"] + [
        REASONS_COLUMN
    ]
    assert result.quarantined[REASONS_COLUMN].tolist() == [
        "column 'tenure': value 'x' is not numeric"
    ]


def test_every_reason_of_a_row_is_kept_in_order_and_counted_per_rule():
    raw = table(id=["a", "a", "", "d"], tenure=["1", "y", "2", "3"], churn=["Yes", "No", "No", "?"])
    spec = SPEC.model_copy(update={"negative_labels": ["No"]})
    result = validate(raw, spec)
    reasons = dict(
        zip(result.quarantined[ROW_COLUMN], result.quarantined[REASONS_COLUMN], strict=True)
    )
    assert reasons[1] == (
        "duplicate id 'a' (first at row 0); column 'tenure': value 'y' is not numeric"
    )
    assert reasons[2] == "id is missing"
    assert reasons[3] == "target 'churn' value '?' is not a known label"
    assert result.report.reasons == {
        "missing_id": 1,
        "duplicate_id": 1,
        "invalid_target": 1,
        "not_numeric": 1,
    }
    assert result.report.duplicate_ids == 1


def test_no_kept_rows_gives_full_missing_rates_and_a_zero_score():
    raw = table(tenure=["x", "y", "z", "w"])
    report = validate(raw, SPEC).report
    assert report.rows_kept == 0
    assert report.missing_rate == {"tenure": 1.0, "plan": 1.0}
    assert report.positive_rate == 0.0 and report.quality_score == 0.0


def test_typed_columns_reads_the_feature_kinds_and_skips_the_pipelines_own_columns():
    valid = pd.DataFrame(
        {
            "id": ["a"],
            TARGET: [1],
            ROW_COLUMN: [0],
            SPLIT_COLUMN: ["test"],
            "_provenance": ["source"],
            "signup": ["2024-01-01"],
            "tenure": [1.0],
            "calls": [3],
            "plan": ["basic"],
        }
    )
    spec = SPEC.model_copy(update={"date_column": "signup"})
    types = typed_columns(valid, spec)
    assert (types.numeric, types.categorical) == (["tenure", "calls"], ["plan"])
    assert types.how == {
        "tenure": "numeric in validated data",
        "calls": "numeric in validated data",
        "plan": "categorical in validated data",
    }


def test_reasons_of_one_rule_add_up_over_columns_and_the_score_has_two_decimals():
    spec = SPEC.model_copy(update={"numeric_columns": ["tenure", "calls"]})
    raw = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "tenure": ["1", "2", "x"],
            "calls": ["y", "4", "5"],
            "plan": ["basic", "pro", "pro"],
            "churn": ["Yes", "No", "No"],
        }
    )
    report = validate(raw, spec).report
    assert report.reasons == {"not_numeric": 2}
    good = raw.assign(tenure=["1", "2", "3"], calls=["1", "x", "3"])
    assert validate(good, spec).report.quality_score == 66.67  # 100 x 2/3, no missing cell


def test_pipeline_only_names_and_engineered_clashes_are_refused_with_their_fix():
    assert refused(table(_reasons=["r"] * 4)) == (
        "source column '_reasons' has the name the pipeline gives the quarantine reasons; "
        "rename it in the source"
    )
    spec = SPEC.model_copy(update={"sum_features": {"plan_total": ["tenure", "tenure"]}})
    assert refused(table(plan_total=["1"] * 4), spec) == (
        "engineered feature name(s) ['plan_total'] are already source columns; "
        "rename the feature in the dataset spec"
    )


def test_without_an_id_column_ids_are_row_numbers_and_none_is_a_duplicate():
    spec = SPEC.model_copy(update={"id_column": None})
    result = validate(table(id=["a", "a", "a", "a"]), spec)
    assert result.valid["row_id"].tolist() == [0, 1, 2]
    assert result.report.duplicate_ids == 0 and "duplicate_id" not in result.report.reasons


@pytest.mark.parametrize(
    ("low", "high", "quarantined"),
    [(1.0, 30.0, {3, 4}), (2.0, None, {0, 3}), (None, 29.0, {2, 4}), (1.0, 50.0, {3})],
)
def test_a_range_quarantines_exactly_the_values_outside_it(low, high, quarantined):
    spec = DatasetSpec.model_validate(
        {**SPEC.model_dump(), "ranges": {"tenure": {"min": low, "max": high}}}
    )
    raw = table(
        id=["a", "b", "c", "d", "e"],
        tenure=["1", "29", "30", "-1", "31"],
        plan=["basic"] * 5,
        churn=["Yes", "No", "Yes", "No", "Yes"],
    )
    result = validate(raw, spec)
    assert set(result.quarantined[ROW_COLUMN]) == quarantined
    assert result.report.reasons == {"out_of_range": len(quarantined)}
    assert result.quarantined[REASONS_COLUMN].str.contains(f"outside \\[{low}, {high}\\]").all()


def test_allowed_categories_on_a_numeric_column_name_it():
    spec = SPEC.model_copy(update={"allowed_categories": {"tenure": ["1"]}})
    assert refused(table(tenure=["1", "2", "3", "4"]), spec) == (
        "allowed categories declared for 'tenure', which is not categorical"
    )
