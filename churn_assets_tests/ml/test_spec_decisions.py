"""The spec's `segments` and `economics` entries: each rule's failing case names the field."""

import pandas as pd
import pytest

from churn_assets.ml.evaluation.segments import (
    MAX_SEGMENT_VALUES,
    check_segment_values,
    check_segments,
)
from churn_assets.ml.spec import SpecError, load_spec
from churn_assets.ml.spec_decisions import SegmentSpec

BASE = "name: s\nsource: {kind: synthetic}\nid_column: customer_id\ntarget_column: churn\n"
ECONOMICS = "economics: {customer_value: 500, offer_cost: 50, offer_success_rate: 0.3}\n"


def _load(tmp_path, extra: str):
    path = tmp_path / "spec.yaml"
    path.write_text(BASE + extra)
    return load_spec(str(path))


def test_segments_and_economics_are_read_with_shorthand_and_bins(tmp_path):
    spec = _load(tmp_path, "segments: [contract, {column: tenure, bins: [12, 24]}]\n" + ECONOMICS)
    assert spec.segments == (
        SegmentSpec(column="contract"),
        SegmentSpec(column="tenure", bins=(12.0, 24.0)),
    )
    assert spec.economics.customer_value == 500 and spec.economics.offer_success_rate == 0.3


def test_without_the_entries_nothing_changes(tmp_path):
    spec = _load(tmp_path, "")
    assert spec.segments == () and spec.economics is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("segments: [churn]", "segment 'churn' is the target column"),
        ("segments: [customer_id]", "segment 'customer_id' is the id column"),
        ("segments: [contract, contract]", "segment 'contract' is listed twice"),
        (
            "drop_columns: [gender]\nsegments: [gender]",
            "segment 'gender' is in drop_columns",
        ),
        ("segments: [{column: tenure, bins: [24, 12]}]", "must increase strictly"),
        ("segments: [{column: tenure, bin: [12]}]", "unknown key 'segments.0.bin'"),
        (
            "economics: {customer_value: 500, offer_cost: -5, offer_success_rate: 0.3}",
            "economics.offer_cost is -5.0",
        ),
        (
            "economics: {customer_value: -1, offer_cost: 5, offer_success_rate: 0.3}",
            "economics.customer_value is -1.0",
        ),
        (
            "economics: {customer_value: 500, offer_cost: 5, offer_success_rate: 30}",
            r"economics.offer_success_rate is 30.0; it is a share in \[0, 1\]",
        ),
        (
            "economics: {customer_value: 500, offer_cost: 5, offer_success_rate: -0.1}",
            "economics.offer_success_rate is -0.1",
        ),
        (
            "economics: {customer_value: 10, offer_cost: 5, offer_success_rate: 0.3}",
            "no customer is worth an offer",
        ),
        ("economics: {customer_value: 500, offer_cost: 5}", "economics.offer_success_rate"),
    ],
)
def test_each_bad_entry_is_a_spec_error_naming_it(tmp_path, extra, message):
    with pytest.raises(SpecError, match=message) as err:
        _load(tmp_path, extra + "\n")
    assert str(tmp_path / "spec.yaml") in str(err.value)


FRAME = pd.DataFrame(
    {
        "contract": ["a", "b"] * 50,
        "tenure": range(100),
        "senior": [0, 1] * 50,
    }
)
INPUTS = ["contract", "tenure", "senior"]
NUMERIC = ["tenure", "senior"]


def test_segments_that_fit_the_data_pass():
    segments = [
        SegmentSpec(column="contract"),
        SegmentSpec(column="senior"),
        SegmentSpec(column="tenure", bins=(12, 24)),
    ]
    check_segments(segments, INPUTS, NUMERIC)
    check_segment_values(_record(segments), FRAME)


def _record(segments) -> dict:
    return {"numeric": NUMERIC, "segments": [s.model_dump() for s in segments]}


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        (SegmentSpec(column="contrat"), "segment 'contrat' is not an input column"),
        (SegmentSpec(column="contract", bins=(1,)), "segment 'contract' has bins but is not"),
    ],
)
def test_segments_that_are_not_inputs_are_named(segment, message):
    with pytest.raises(SpecError, match=message):
        check_segments([segment], INPUTS, NUMERIC)


def test_a_numeric_segment_with_many_values_needs_bins():
    message = (
        f"segment 'tenure' is numeric with 100 distinct values \\(at most "
        f"{MAX_SEGMENT_VALUES} without bins\\); give cut points"
    )
    with pytest.raises(SpecError, match=message):
        check_segment_values(_record([SegmentSpec(column="tenure")]), FRAME)
