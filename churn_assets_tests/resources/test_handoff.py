"""The stored table handed to the next step of the same process: only when it is what decoding
the file would give, once, and never held after a loader decoded its own copy."""

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, load_assets_from_modules, materialize

from churn_assets.defs import features, ingestion, validation
from churn_assets.ml.validation_types import TEXT
from churn_assets.resources import handoff
from churn_assets.resources import parquet_io as pio
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.metrics import MetricsResource

ASSETS = load_assets_from_modules([ingestion, validation, features])


@pytest.fixture(autouse=True)
def _nothing_kept():
    handoff.clear()
    yield
    handoff.clear()


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array(["a", "b", None], dtype=TEXT),
            "n": np.array([1, 2, 3], dtype="int64"),
            "small": np.array([1, 0, 1], dtype="int8"),
            "x": [0.5, np.nan, -0.0],
            "flag": [True, False, True],
        }
    )


def test_a_frame_of_round_tripping_dtypes_with_a_default_index_round_trips():
    frame = _frame()
    assert handoff.round_trips(frame)
    decoded = pio._arrow_text_frame(pio.parquet_bytes(frame))
    pd.testing.assert_frame_equal(decoded, frame)


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.set_axis([1, 2, 3]),  # an index that starts at 1
        lambda f: f.iloc[[0, 2]],  # an index with a gap
        lambda f: f.set_axis(pd.RangeIndex(0, 6, 2)),  # a stepped RangeIndex
        lambda f: f.assign(o=["a", None, "c"]),  # object text: decodes as Arrow text
        lambda f: f.assign(d=pd.to_datetime(["2024-01-01"] * 3)),  # not in the list
        lambda f: f.assign(h=np.zeros(3, dtype="float16")),
        lambda f: f.assign(i=pd.array([1, None, 3], dtype="Int64")),
        lambda f: f.rename(columns={"n": 7}),  # a name that is not a string
        lambda f: f.set_axis(["id", "n", "small", "x", "x"], axis=1),  # a repeated name
    ],
    ids=[
        "index_from_1",
        "index_gap",
        "stepped_index",
        "object",
        "datetime",
        "float16",
        "nullable_int",
        "int_name",
        "repeated_name",
    ],
)
def test_each_thing_decoding_would_change_refuses_the_handoff(change):
    assert not handoff.round_trips(change(_frame()))


def test_attrs_refuse_the_handoff():
    frame = _frame()
    frame.attrs["source"] = "x"
    assert not handoff.round_trips(frame)


def test_a_kept_frame_is_taken_once_by_an_arrow_text_loader_of_the_same_unchanged_file():
    frame = _frame()
    handoff.keep("run/a", "/a.parquet", "d1", frame)
    assert handoff.take("/b.parquet", True, lambda: "d1") is None  # another file: still kept
    assert handoff.take("/a.parquet", True, lambda: "d1") is frame
    assert handoff.take("/a.parquet", True, lambda: "d1") is None  # taken once


@pytest.mark.parametrize(
    ("arrow_text", "digest"),
    [(False, "d1"), (True, "d2")],
    ids=["object_text_loader", "file_rewritten"],
)
def test_a_loader_that_decodes_drops_the_kept_frame(arrow_text, digest):
    handoff.keep("run/a", "/a.parquet", "d1", _frame())
    assert handoff.take("/a.parquet", arrow_text, lambda: digest) is None
    # dropped, not left for a later loader
    assert handoff.take("/a.parquet", True, lambda: "d1") is None


def test_a_steps_tables_are_all_kept_until_the_next_step_stores_one():
    first, second, third = _frame(), _frame(), _frame()
    handoff.keep("run/validate", "/valid.parquet", "d1", first)
    handoff.keep("run/validate", "/quarantine.parquet", "d2", second.assign(o=["x", None, "z"]))
    handoff.keep("run/validate", "/other.parquet", "d3", second)
    assert handoff.take("/quarantine.parquet", True, lambda: "d2") is None  # object: not kept
    handoff.keep("run/features", "/features.parquet", "d4", third)
    assert handoff.take("/valid.parquet", True, lambda: "d1") is None  # an earlier step's
    assert handoff.take("/other.parquet", True, lambda: "d3") is None
    assert handoff.take("/features.parquet", True, lambda: "d4") is third


def test_a_file_stored_again_by_its_step_keeps_only_the_new_frame():
    old, new = _frame(), _frame()
    handoff.keep("run/a", "/a.parquet", "d1", old)
    handoff.keep("run/a", "/a.parquet", "d2", new.assign(o=["x", "y", "z"]))  # not kept
    assert handoff.take("/a.parquet", True, lambda: "d1") is None


def _materialize(tmp_path):
    return materialize(
        ASSETS,
        resources={
            "io_manager": pio.LocalParquetIOManager(base_dir=str(tmp_path)),
            "dataset": DatasetResource(spec="synthetic", n_rows=3_000),
            "metrics": MetricsResource(deployment="test"),
        },
        instance=DagsterInstance.ephemeral(),
    )


def _versions(result) -> dict[str, str]:
    return {
        e.asset_key.to_user_string(): e.materialization.metadata["data_version"].value
        for e in result.get_asset_materialization_events()
    }


def test_in_one_process_the_data_steps_get_the_frames_decoding_would_give(tmp_path, monkeypatch):
    handed: dict[str, pd.DataFrame] = {}
    original = handoff.take

    def take(location, arrow_text, digest):
        frame = original(location, arrow_text, digest)
        if frame is not None:
            handed[location] = frame
        return frame

    monkeypatch.setattr(handoff, "take", take)
    result = _materialize(tmp_path / "handed")
    # raw -> validate_dataset and validated -> features, both without a decode
    assert sorted(p.rsplit("/", 1)[-1] for p in handed) == [
        "raw_dataset.parquet",
        "validated_dataset.parquet",
    ]
    for location, frame in handed.items():
        with open(location, "rb") as handle:
            decoded = pio._arrow_text_frame(handle.read())
        pd.testing.assert_frame_equal(frame, decoded)
    # the same stored tables, byte for byte, as a run where every step decodes
    monkeypatch.setattr(handoff, "take", lambda location, arrow_text, digest: None)
    decoding = _materialize(tmp_path / "decoded")
    assert _versions(result) == _versions(decoding)
