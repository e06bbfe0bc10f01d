"""The local Parquet IO manager: atomic writes, partitions, JSON dicts, refusals, content hashes."""

import os
from pathlib import Path

import pandas as pd
import pytest
from dagster import (
    AssetKey,
    StaticPartitionsDefinition,
    asset,
    build_input_context,
    build_output_context,
    materialize,
)

from churn_assets.resources.parquet_io import LocalParquetIOManager, content_hash

FRAME = pd.DataFrame({"customer_id": ["a", "b", "c"], "tenure": [1, 24, 60], "churned": [1, 0, 0]})


def _files(folder: Path) -> list[str]:
    """Every file under `folder` (hidden ones included), relative to it."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def base_dir(tmp_path) -> Path:
    return tmp_path / "assets"


@pytest.fixture
def io_manager(base_dir) -> LocalParquetIOManager:
    return LocalParquetIOManager(base_dir=str(base_dir))


def test_materialize_leaves_only_the_final_file(base_dir, io_manager):
    @asset
    def customers() -> pd.DataFrame:
        return FRAME

    result = materialize([customers], resources={"io_manager": io_manager})

    assert result.success
    assert _files(base_dir) == ["customers.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(base_dir / "customers.parquet"), FRAME)
    metadata = result.asset_materializations_for_node("customers")[0].metadata
    assert metadata["uri"].value == str((base_dir / "customers.parquet").resolve())
    assert metadata["dagster/row_count"].value == 3
    assert metadata["data_version"].value == content_hash(FRAME)


def test_failed_write_keeps_previous_file_and_no_temp(base_dir, io_manager, monkeypatch):
    frames = iter([FRAME, FRAME.assign(tenure=[2, 25, 61])])

    @asset
    def customers() -> pd.DataFrame:
        return next(frames)

    assert materialize([customers], resources={"io_manager": io_manager}).success
    before = (base_dir / "customers.parquet").read_bytes()

    real_replace = os.replace

    def failing_replace(src, dst, *args, **kwargs):
        if Path(dst).parent == base_dir:
            raise OSError("disk full (simulated)")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing_replace)
    result = materialize([customers], resources={"io_manager": io_manager}, raise_on_error=False)

    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "disk full (simulated)" in failure.step_failure_data.error.to_string()
    assert _files(base_dir) == ["customers.parquet"]
    assert (base_dir / "customers.parquet").read_bytes() == before


def test_partitioned_asset_is_stored_per_partition(base_dir, io_manager):
    regions = StaticPartitionsDefinition(["north", "south"])
    loaded: list[pd.DataFrame] = []

    @asset(partitions_def=regions)
    def regional(context) -> pd.DataFrame:
        return FRAME.assign(region=context.partition_key)

    @asset(partitions_def=regions)
    def regional_copy(regional: pd.DataFrame) -> pd.DataFrame:
        loaded.append(regional)
        return regional

    for key in ("south", "north"):
        result = materialize(
            [regional, regional_copy], resources={"io_manager": io_manager}, partition_key=key
        )
        assert result.success

    assert _files(base_dir) == [
        "regional/north.parquet",
        "regional/south.parquet",
        "regional_copy/north.parquet",
        "regional_copy/south.parquet",
    ]
    assert set(pd.read_parquet(base_dir / "regional/south.parquet")["region"]) == {"south"}
    assert [set(frame["region"]) for frame in loaded] == [{"south"}, {"north"}]


def test_dict_output_is_stored_as_json_and_round_trips(base_dir, io_manager):
    summary = {"rows": 3, "columns": ["customer_id", "tenure"], "nested": {"rate": 0.25}}
    loaded: list[dict] = []

    @asset
    def stats() -> dict:
        return summary

    @asset
    def stats_user(stats: dict) -> dict:
        loaded.append(stats)
        return {"seen": True}

    result = materialize([stats, stats_user], resources={"io_manager": io_manager})

    assert result.success
    assert _files(base_dir) == ["stats.json", "stats_user.json"]
    assert loaded == [summary]
    metadata = result.asset_materializations_for_node("stats")[0].metadata
    assert metadata["uri"].value.endswith("stats.json")


def test_unsupported_type_raises_type_error_naming_it(base_dir, io_manager):
    context = build_output_context(asset_key=AssetKey("ids"))
    with pytest.raises(TypeError, match=r"not set\b"):
        io_manager.handle_output(context, {"a", "b"})
    assert not base_dir.exists() or _files(base_dir) == []


def test_none_output_is_refused(io_manager):
    context = build_output_context(asset_key=AssetKey("nothing"))
    with pytest.raises(TypeError, match="nothing returned None"):
        io_manager.handle_output(context, None)


def test_loading_a_missing_asset_says_to_materialize_it(io_manager):
    context = build_input_context(asset_key=AssetKey("customers"))
    with pytest.raises(FileNotFoundError, match="customers.*materialize it first"):
        io_manager.load_input(context)


def test_content_hash_is_stable_and_sensitive():
    assert content_hash(FRAME) == content_hash(FRAME.copy())
    assert len(content_hash(FRAME)) == 16
    changed = FRAME.copy()
    changed.loc[1, "tenure"] = 25
    assert content_hash(changed) != content_hash(FRAME)
    assert content_hash(FRAME.rename(columns={"tenure": "months"})) != content_hash(FRAME)
    assert content_hash(FRAME.astype({"tenure": "float64"})) != content_hash(FRAME)


def test_an_asset_that_changes_type_leaves_no_stale_value(tmp_path):
    from dagster import asset as dg_asset
    from dagster import materialize as dg_materialize

    io = LocalParquetIOManager(base_dir=str(tmp_path / "assets"))

    @dg_asset(name="shifty")
    def as_frame() -> pd.DataFrame:
        return pd.DataFrame({"a": [1]})

    @dg_asset(name="shifty")
    def as_dict() -> dict:
        return {"a": 1}

    assert dg_materialize([as_frame], resources={"io_manager": io}).success
    assert dg_materialize([as_dict], resources={"io_manager": io}).success
    assert sorted(p.name for p in (tmp_path / "assets").iterdir()) == ["shifty.json"]


def test_a_versioned_table_is_encoded_once_and_stored_as_hashed(base_dir, io_manager):
    """`versioned` keeps the Parquet bytes it hashed; the IO manager stores exactly those."""
    from churn_assets.defs.metadata import versioned
    from churn_assets.resources import parquet_io

    frame = FRAME.copy()
    kept = {}

    @asset
    def customers():
        output = versioned(frame, metadata={})
        kept["bytes"] = parquet_io._ENCODED[id(frame)][1]
        return output

    result = materialize([customers], resources={"io_manager": io_manager})
    stored = (base_dir / "customers.parquet").read_bytes()
    assert stored == kept["bytes"] == parquet_io.parquet_bytes(frame)
    assert id(frame) not in parquet_io._ENCODED  # taken once, not left behind
    materialization = result.asset_materializations_for_node("customers")[0]
    assert materialization.tags["dagster/data_version"] == content_hash(frame)
    assert materialization.metadata["data_version"].value == content_hash(frame)


def test_kept_bytes_serve_only_the_same_frame_object():
    from churn_assets.resources import parquet_io

    frame = FRAME.copy()
    parquet_io.versioned_bytes(frame)
    other = FRAME.assign(tenure=[9, 9, 9])
    assert parquet_io._encoded(other) == parquet_io.parquet_bytes(other)
    assert parquet_io._encoded(frame) == parquet_io.parquet_bytes(frame)
    del frame
    import gc

    gc.collect()
    assert not parquet_io._ENCODED


def test_schema_only_input_is_the_stored_columns_and_dtypes_without_rows(io_manager):
    from dagster import AssetIn

    from churn_assets.resources.parquet_io import SCHEMA_ONLY

    @asset
    def customers() -> pd.DataFrame:
        return FRAME.assign(score=[0.5, None, 1.0], plan=["a", None, "b"])

    seen = {}

    @asset(ins={"customers": AssetIn(metadata={SCHEMA_ONLY: True})})
    def column_types(customers: pd.DataFrame) -> dict:
        seen["frame"] = customers
        return {c: str(t) for c, t in customers.dtypes.items()}

    assert materialize([customers, column_types], resources={"io_manager": io_manager}).success
    expected = customers().dtypes
    assert len(seen["frame"]) == 0
    pd.testing.assert_series_equal(seen["frame"].dtypes, expected)


def test_arrow_text_input_loads_text_as_arrow_and_plain_inputs_as_str_or_none(io_manager):
    from dagster import AssetIn

    from churn_assets.ml.validation_types import TEXT, text_as_arrow
    from churn_assets.resources.parquet_io import ARROW_TEXT

    @asset
    def customers() -> pd.DataFrame:
        return text_as_arrow(FRAME.assign(plan=["a", None, "b"]))

    seen = {}

    @asset(ins={"customers": AssetIn(metadata={ARROW_TEXT: True})})
    def arrow_reader(customers: pd.DataFrame) -> dict:
        seen["arrow"] = customers
        return {"rows": len(customers)}

    @asset
    def plain_reader(customers: pd.DataFrame) -> dict:
        seen["plain"] = customers
        return {"rows": len(customers)}

    resources = {"io_manager": io_manager}
    assert materialize([customers, arrow_reader, plain_reader], resources=resources).success
    arrow, plain = seen["arrow"], seen["plain"]
    assert arrow["plan"].dtype == TEXT and arrow["customer_id"].dtype == TEXT
    assert plain["plan"].dtype == object and plain["plan"].tolist() == ["a", None, "b"]
    assert arrow["tenure"].dtype == plain["tenure"].dtype == FRAME["tenure"].dtype
    for col in FRAME.columns:
        assert [None if pd.isna(v) else v for v in arrow[col]] == plain[col].tolist()


def test_stored_tables_keep_statistics_for_numbers_only_and_read_back_unchanged():
    """Text columns are written without min/max statistics (their cost, unused); number,
    boolean and time columns keep theirs; the file reads back to the same frame either way."""
    import io

    import pyarrow.parquet as pq

    from churn_assets.ml.validation_types import text_as_arrow
    from churn_assets.resources import parquet_io

    frame = FRAME.assign(
        plan=["a", None, "b"],
        score=[0.5, None, 1.0],
        active=[True, False, True],
        since=pd.to_datetime(["2024-01-01", "2024-02-01", None]),
        tier=pd.Categorical(["x", "y", "x"]),
    )
    readers = (
        (frame, lambda payload: pd.read_parquet(io.BytesIO(payload))),
        (text_as_arrow(frame), parquet_io._arrow_text_frame),  # an ARROW_TEXT input's loader
    )
    for stored, read in readers:
        payload = parquet_io.parquet_bytes(stored)
        chunks = pq.ParquetFile(io.BytesIO(payload)).metadata.row_group(0)
        with_stats = {
            chunks.column(i).path_in_schema
            for i in range(chunks.num_columns)
            if chunks.column(i).is_stats_set
        }
        assert with_stats == {"tenure", "churned", "score", "active", "since"}
        pd.testing.assert_frame_equal(read(payload), stored)
