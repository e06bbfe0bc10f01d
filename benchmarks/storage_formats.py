"""How far the data path's storage format can move its 1.15x ratio (issue 11), measured apart.

`python -m benchmarks.storage_formats [--rows=1000000]` builds the three tables the data assets
store, as they hold them (`raw_dataset` with Arrow text, `validated_dataset` as `validate` returns
it, `features` built from the validated table loaded as Arrow text), then, in a fresh process per
format: encode each table to bytes, sha256 of the bytes (the data version), and decode the two
tables the data path reads back (raw by `validate_dataset`, validated by `features`) as those steps
load them (text as Arrow). CPU time (all threads) and wall time, median of 3; each decoded table
must equal what today's Parquet gives back (values, dtypes), so no format wins by dropping
something.

It then projects the data path's CPU ratio at the same row count: the Dagster path's CPU from
`results/data_assets.json` with today's IO (Parquet, snappy) swapped for each format's, over the
direct path's CPU. A projection, not a run of the data path in that format: no format but Parquet
is wired into the IO manager. Results: `results/storage_formats.json`.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import (
    RESULTS_DIR,
    load_average,
    row,
    run_worker,
    timed_call,
    worker_main,
    write_result,
)

NAME = "storage_formats"
WORKER = "benchmarks.storage_formats"
TARGET_RATIO = 1.15
# (name, container, compression); "parquet/snappy" is what the IO manager writes today.
FORMATS = [
    ("parquet/snappy", "parquet", "snappy"),
    ("parquet/none", "parquet", "none"),
    ("parquet/lz4", "parquet", "lz4"),
    ("arrow-ipc/none", "ipc", None),
    ("arrow-ipc/lz4", "ipc", "lz4"),
    ("arrow-ipc/zstd", "ipc", "zstd"),
]
TODAY = "parquet/snappy"
# The data-assets benchmark's timers that cover storage (encode + hash, decode, schema).
STORAGE_PIECES = (
    "io: data version (parquet encode + hash)",
    "io: parquet encode (to_parquet)",
    "io: parquet decode (read_parquet)",
    "io: table_schema",
)
READ_BACK = ("raw_dataset", "validated_dataset")  # the tables the data path's steps load


def build_tables(rows: int) -> dict[str, Any]:
    """The three stored tables at `rows` synthetic rows, as the data assets hold them."""
    from churn_assets.ml.features import build_features, feature_spec
    from churn_assets.ml.validation import typed_columns, validate
    from churn_assets.ml.validation_types import text_as_arrow
    from churn_assets.resources import parquet_io
    from churn_assets.resources.dataset import DatasetResource

    spec = DatasetResource(spec="synthetic", n_rows=rows).load_spec()
    raw = text_as_arrow(DatasetResource(spec="synthetic").load_table(spec))
    valid = validate(raw, spec).valid
    loaded = parquet_io._arrow_text_frame(parquet_io.parquet_bytes(valid))
    fspec = feature_spec(spec, typed_columns(loaded, spec))
    features = build_features(loaded, spec, fspec, spec.id_name)
    return {"raw_dataset": raw, "validated_dataset": valid, "features": features}


def encode(frame, container: str, compression: str | None):
    """The stored bytes: `bytes` for Parquet, an Arrow buffer (buffer protocol) for IPC."""
    import pyarrow as pa

    from churn_assets.resources import parquet_io

    if container == "parquet":
        if compression == "snappy":
            return parquet_io.parquet_bytes(frame)  # exactly what the IO manager writes
        stats = [str(c) for c, t in frame.dtypes.items() if t.kind in parquet_io._STATISTICS_KINDS]
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False, compression=compression, write_statistics=stats)
        return buffer.getvalue()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue()  # Arrow's buffer: hashed and decoded as it is, without a copy


def decode(payload, container: str):
    """The table as a step loads it: text as Arrow (`ARROW_TEXT`)."""
    import pyarrow as pa

    from churn_assets.resources import parquet_io
    from churn_assets.resources.parquet_io import TEXT

    if container == "parquet":
        return parquet_io._arrow_text_frame(payload)
    mapping = {pa.string(): TEXT, pa.large_string(): TEXT}
    table = pa.ipc.open_file(pa.BufferReader(payload)).read_all()
    return table.to_pandas(types_mapper=mapping.get)


def measure_format(params: dict[str, Any]) -> dict[str, Any]:
    """Worker: encode, hash and decode every table in one format, `repeats` times each."""
    import pandas as pd

    with open(params["tables"], "rb") as fh:
        tables = pickle.load(fh)
    with open(params["reference"], "rb") as fh:
        reference = pickle.load(fh)  # today's decoded tables
    container, compression = params["container"], params["compression"]
    out: dict[str, Any] = {}
    for name, frame in tables.items():
        runs: dict[str, list[float]] = {}
        for _ in range(params["repeats"]):
            payload, wall, cpu = timed_call(encode, frame, container, compression)
            runs.setdefault("encode_cpu", []).append(cpu)
            runs.setdefault("encode_wall", []).append(wall)
            _, _, cpu = timed_call(hashlib.sha256, payload)
            runs.setdefault("hash_cpu", []).append(cpu)
            if name in READ_BACK:
                loaded, wall, cpu = timed_call(decode, payload, container)
                runs.setdefault("decode_cpu", []).append(cpu)
                runs.setdefault("decode_wall", []).append(wall)
                pd.testing.assert_frame_equal(loaded, reference[name])
        out[name] = {k: round(statistics.median(v), 4) for k, v in runs.items()}
        out[name]["bytes"] = memoryview(payload).nbytes
    return out


def io_cpu(tables: dict[str, dict[str, float]]) -> float:
    """CPU seconds the data path spends on storage in a format: every table encoded and hashed
    once, the read-back tables decoded once."""
    total = 0.0
    for name, t in tables.items():
        total += t["encode_cpu"] + t["hash_cpu"] + (t["decode_cpu"] if name in READ_BACK else 0)
    return total


def project(formats: dict[str, dict], data_assets_entry: dict[str, Any]) -> dict[str, Any]:
    """Projected Dagster / direct CPU ratio per format: the measured Dagster CPU with today's
    storage CPU swapped for the format's."""
    direct = data_assets_entry["direct"]["cpu_seconds"]["total"]
    dagster = data_assets_entry["dagster"]["cpu_seconds"]["total"]
    today = io_cpu(formats[TODAY])
    out = {}
    for name, tables in formats.items():
        if "error" in tables:
            continue
        projected = dagster - today + io_cpu(tables)
        out[name] = {
            "io_cpu_seconds": round(io_cpu(tables), 3),
            "dagster_cpu_seconds": round(projected, 3),
            "ratio_cpu": round(projected / direct, 3),
            "megabytes_stored": round(sum(t["bytes"] for t in tables.values()) / 1e6, 1),
        }
    # The same storage as the data-path run itself timed it (in the pipeline, not apart).
    pieces = data_assets_entry["dagster"].get("pieces_cpu_seconds", {})
    in_run = sum(v for k, v in pieces.items() if k in STORAGE_PIECES)
    return {
        "storage_cpu_in_data_path_run": round(in_run, 3),
        "floor_ratio_without_storage_as_timed_in_run": round((dagster - in_run) / direct, 3),
        "direct_cpu_seconds": direct,
        "dagster_cpu_seconds_measured": dagster,
        "dagster_cpu_without_storage": round(dagster - today, 3),
        "floor_ratio_without_storage": round((dagster - today) / direct, 3),
        "formats": out,
    }


def summary_rows(rows: int, projection: dict[str, Any]) -> list[dict[str, str]]:
    out = [
        row(
            NAME,
            f"{rows:,} rows: data path without any storage (projected)",
            f"{projection['floor_ratio_without_storage']:.2f}x direct CPU",
            f"Dagster {projection['dagster_cpu_without_storage']:.2f} s CPU (measured "
            f"{projection['dagster_cpu_seconds_measured']:.2f} s less today's storage) over direct "
            f"{projection['direct_cpu_seconds']:.2f} s; target <= {TARGET_RATIO}; "
            f"{projection['floor_ratio_without_storage_as_timed_in_run']:.2f}x with the storage "
            f"CPU the data-path run timed ({projection['storage_cpu_in_data_path_run']:.2f} s)",
        )
    ]
    for name, p in projection["formats"].items():
        verdict = "within" if p["ratio_cpu"] <= TARGET_RATIO else "over"
        out.append(
            row(
                NAME,
                f"{rows:,} rows: {name}{' (today)' if name == TODAY else ''}",
                f"{p['ratio_cpu']:.2f}x direct CPU (projected)",
                f"storage {p['io_cpu_seconds']:.2f} s CPU, {p['megabytes_stored']:.0f} MB stored "
                f"for the 3 tables; {verdict} {TARGET_RATIO}",
            )
        )
    return out


def run(quick: bool = False, rows: int | None = None, repeats: int = 3) -> dict[str, Any]:
    """Measure every format at `rows` (1M; 100k with `quick`) and write the JSON."""
    rows = rows or (100_000 if quick else 1_000_000)
    load_at_start = load_average()
    data_assets = json.loads((RESULTS_DIR / "data_assets.json").read_text())
    entry = data_assets["results"][str(rows)]
    with tempfile.TemporaryDirectory(prefix="churn-storage-") as tmp:
        tables = build_tables(rows)
        tables_path, reference_path = Path(tmp) / "tables.pkl", Path(tmp) / "reference.pkl"
        tables_path.write_bytes(pickle.dumps(tables, protocol=5))
        reference = {
            n: decode(encode(tables[n], "parquet", "snappy"), "parquet") for n in READ_BACK
        }
        reference_path.write_bytes(pickle.dumps(reference, protocol=5))
        del tables, reference
        formats = {}
        for name, container, compression in FORMATS:
            params = {
                "tables": str(tables_path),
                "reference": str(reference_path),
                "container": container,
                "compression": compression,
                "repeats": repeats,
            }
            result = run_worker(WORKER, "format", params, timeout=900)
            result.pop("peak_rss_mb", None)
            result.pop("process_seconds", None)
            result.pop("load_1min", None)
            formats[name] = result
    failed = {n: r["error"] for n, r in formats.items() if "error" in r}
    if failed:
        raise SystemExit(f"storage_formats: formats failed: {failed}")
    projection = project(formats, entry)
    params = {
        "rows": rows,
        "repeats": repeats,
        "data_assets_measured_at": data_assets["machine"]["timestamp"],
        "data_assets_git_sha": entry.get("git_sha"),
        "target_ratio": TARGET_RATIO,
    }
    results = {"formats": formats, "projection": projection}
    path = write_result(NAME, params, results, summary_rows(rows, projection), load_at_start)
    print(f"wrote {path}")
    for r in summary_rows(rows, projection):
        print(f"{r['measurement']}: {r['value']} ({r['note']})")
    return results


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "format":
        worker_main({"format": measure_format})
    else:
        rows = 1_000_000
        for arg in sys.argv[1:]:
            if arg.startswith("--rows="):
                rows = int(arg.split("=", 1)[1])
        run(rows=rows)
