"""The storage-format benchmark compares like with like: every format gives back the tables
today's Parquet gives back, a format that changes a value fails its worker, and the projection
swaps exactly today's storage CPU for the format's."""

import pickle

import pandas as pd
import pytest

from benchmarks import storage_formats as sf


@pytest.fixture(scope="module")
def tables():
    return sf.build_tables(3_000)


def test_every_format_gives_back_the_tables_parquet_gives_back(tables):
    for name, container, compression in sf.FORMATS:
        for table in sf.READ_BACK:
            today = sf.decode(sf.encode(tables[table], "parquet", "snappy"), "parquet")
            other = sf.decode(sf.encode(tables[table], container, compression), container)
            pd.testing.assert_frame_equal(other, today, obj=f"{name} {table}")
    # Arrow text on the way back, as the steps load it (not object columns).
    assert (today.dtypes == sf.decode(sf.encode(today, "ipc", None), "ipc").dtypes).all()
    assert any(str(t) == "str" for t in today.dtypes)


def test_a_format_that_changes_a_value_fails_its_worker(tables, tmp_path):
    reference = {
        t: sf.decode(sf.encode(tables[t], "parquet", "snappy"), "parquet") for t in sf.READ_BACK
    }
    reference["raw_dataset"].iloc[0, 0] = "not what was stored"
    (tmp_path / "t.pkl").write_bytes(pickle.dumps(tables))
    (tmp_path / "r.pkl").write_bytes(pickle.dumps(reference))
    params = {
        "tables": str(tmp_path / "t.pkl"),
        "reference": str(tmp_path / "r.pkl"),
        "container": "ipc",
        "compression": "lz4",
        "repeats": 1,
    }
    with pytest.raises(AssertionError):
        sf.measure_format(params)
    reference["raw_dataset"] = sf.decode(sf.encode(tables["raw_dataset"], "ipc", "lz4"), "ipc")
    (tmp_path / "r.pkl").write_bytes(pickle.dumps(reference))
    result = sf.measure_format(params)
    assert set(result) == {"raw_dataset", "validated_dataset", "features"}
    assert "decode_cpu" in result["raw_dataset"] and "decode_cpu" not in result["features"]


def _tables(encode: float, decode: float) -> dict:
    one = {"encode_cpu": encode, "hash_cpu": 0.0, "decode_cpu": decode, "bytes": 1_000_000}
    return {"raw_dataset": one, "validated_dataset": one, "features": {**one, "decode_cpu": 9.0}}


def test_the_projection_swaps_todays_storage_for_the_formats():
    entry = {
        "direct": {"cpu_seconds": {"total": 10.0}},
        "dagster": {
            "cpu_seconds": {"total": 14.0},
            "pieces_cpu_seconds": {
                "io: data version (parquet encode + hash)": 1.5,
                "io: parquet decode (read_parquet)": 1.0,
                "compute: validate": 5.0,
            },
        },
    }
    # today: 3 encodes of 0.5 + 2 decodes of 0.5 = 2.5 s (the features table is not read back)
    formats = {sf.TODAY: _tables(0.5, 0.5), "fast": _tables(0.1, 0.2)}
    p = sf.project(formats, entry)
    assert p["dagster_cpu_without_storage"] == 11.5
    assert p["floor_ratio_without_storage"] == 1.15
    assert p["formats"][sf.TODAY]["ratio_cpu"] == 1.4
    assert p["formats"]["fast"]["io_cpu_seconds"] == pytest.approx(0.7)
    assert p["formats"]["fast"]["ratio_cpu"] == 1.22
    assert p["storage_cpu_in_data_path_run"] == 2.5
    rows = sf.summary_rows(1_000_000, p)
    assert "within 1.15" not in rows[1]["note"] and "(today)" in rows[1]["measurement"]
