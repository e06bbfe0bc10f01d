"""Measured code of the data-assets benchmark; each task runs in a fresh process.

`direct`: the `ml/` functions in one process, no IO. `dagster`: the three assets materialized with
`dagster.materialize` on an ephemeral instance and the local Parquet IO manager, with timers
wrapped around the project functions so the Dagster time can be split into pieces.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import defaultdict
from functools import wraps
from typing import Any

from benchmarks.common import peak_rss_mb, worker_main


def _spec(rows: int):
    from churn_assets.resources.dataset import DatasetResource

    return DatasetResource(spec="synthetic", n_rows=rows).load_spec()


def direct(params: dict[str, Any]) -> dict[str, Any]:
    """load_table -> validate -> typed_columns/feature_spec/build_features, each timed."""
    from churn_assets.ml.features import build_features, feature_spec
    from churn_assets.ml.validation import typed_columns, validate
    from churn_assets.resources.dataset import DatasetResource

    rss_after_imports = peak_rss_mb()
    spec = _spec(params["rows"])
    t0, cpu0 = time.perf_counter(), time.process_time()
    raw = DatasetResource(spec="synthetic").load_table(spec)
    t1 = time.perf_counter()
    result = validate(raw, spec, arrow_text=True)  # as validate_dataset calls it
    rows = len(raw)
    # Freed inside the window, as raw_dataset frees the loaded object columns once it holds them
    # as Arrow text: both paths pay for freeing their Python strings (0.1 s at 1M rows).
    del raw
    t2 = time.perf_counter()
    fspec = feature_spec(spec, typed_columns(result.valid, spec))
    table = build_features(result.valid, spec, fspec, spec.id_name)
    t3, cpu = time.perf_counter(), time.process_time() - cpu0
    return {
        "rows": rows,
        "rows_kept": len(result.valid),
        "feature_rows": len(table),
        "seconds": {
            "total": t3 - t0,
            "load_table": t1 - t0,
            "validate": t2 - t1,
            "features": t3 - t2,
        },
        "cpu_seconds": {"total": cpu},
        "validate_rows_per_second": rows / (t2 - t1),
        "rss_after_imports_mb": rss_after_imports,
    }


class _Timers:
    """Wraps module attributes with timers; records (name, start wall clock, seconds, CPU
    seconds of the process, all threads: Arrow encodes and decodes on a thread pool)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float, float]] = []

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        original = getattr(owner, attr)

        @wraps(original)
        def timed(*args, **kwargs):
            wall, started, cpu = time.time(), time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                self.calls.append((name, wall, elapsed, time.process_time() - cpu))

        setattr(owner, attr, timed)

    def totals(self, cpu: bool = False) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for name, _, seconds, cpu_seconds in self.calls:
            out[name] += cpu_seconds if cpu else seconds
        return dict(out)


def _instrument() -> _Timers:
    import churn_assets.defs.features as features_defs
    import churn_assets.defs.ingestion as ingestion_defs
    import churn_assets.defs.metadata as metadata_defs
    import churn_assets.defs.validation as validation_defs
    import churn_assets.resources.dataset as dataset_res
    import churn_assets.resources.parquet_io as pio

    timers = _Timers()
    timers.wrap(dataset_res.DatasetResource, "load_table", "compute: load_table")
    timers.wrap(validation_defs, "validate", "compute: validate")
    timers.wrap(features_defs, "build_features", "compute: build_features")
    timers.wrap(validation_defs, "quality_checks", "asset: quality_checks")
    # The direct path pays this inside validate(); in Dagster raw_dataset pays it once.
    timers.wrap(ingestion_defs, "text_as_arrow", "asset: text as Arrow (raw_dataset)")
    for module in (ingestion_defs, validation_defs):
        timers.wrap(module, "preview", "metadata: preview (markdown head)")
    for module in (validation_defs, features_defs):
        timers.wrap(module, "table_md", "metadata: table_md")
    timers.wrap(pio, "content_hash", "io: content_hash")
    timers.wrap(pio, "table_schema", "io: table_schema")
    timers.wrap(pio, "_serialize", "io: serialize (parquet encode + hash + schema)")
    timers.wrap(pio, "_deserialize", "io: parquet decode (read_parquet)")
    timers.wrap(pio, "_arrow_text_frame", "io: parquet decode (read_parquet)")
    timers.wrap(pio, "write_atomic", "io: file write")
    timers.wrap(pio.ParquetUPathIOManager, "load_from_path", "io: load (file read + decode)")
    # The data version: Parquet encode + hash, whose bytes the IO manager then stores.
    timers.wrap(metadata_defs, "versioned_bytes", "io: data version (parquet encode + hash)")
    return timers


def _pieces(totals: dict[str, float]) -> dict[str, float]:
    """Nested timers taken apart: the serialize wrapper minus what it calls, the load wrapper
    minus the decode, so no second is counted twice."""
    serialize = totals.pop("io: serialize (parquet encode + hash + schema)", 0.0)
    hashing = totals.get("io: content_hash", 0.0)
    schema = totals.get("io: table_schema", 0.0)
    totals["io: parquet encode (to_parquet)"] = serialize - hashing - schema
    load = totals.pop("io: load (file read + decode)", 0.0)
    totals["io: file read"] = load - totals.get("io: parquet decode (read_parquet)", 0.0)
    return totals


def _step_windows(instance, run_id: str) -> dict[str, tuple[float, float]]:
    """Start and end wall clock of each step, from the run's event log."""
    from dagster import DagsterEventType

    windows: dict[str, list[float]] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            windows.setdefault(event.step_key, [record.timestamp, record.timestamp])[0] = (
                record.timestamp
            )
        elif event.event_type == DagsterEventType.STEP_SUCCESS:
            windows.setdefault(event.step_key, [record.timestamp, record.timestamp])[1] = (
                record.timestamp
            )
    return {k: (v[0], v[1]) for k, v in windows.items()}


def _local_resources(home: str) -> dict[str, Any]:
    """The local deployment's resources (metrics, landing, ...) with every file under `home` and
    no Pushgateway, so assets that gain a resource keep running here unchanged."""
    os.environ["CHURN_HOME"] = home
    os.environ.pop("CHURN_PUSHGATEWAY_URL", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from churn_assets.resources.deployment import build_resources

    return build_resources("local")


def dagster(params: dict[str, Any]) -> dict[str, Any]:
    """Materialize raw_dataset -> validate_dataset -> feature_spec, features; time the pieces."""
    from dagster import DagsterInstance, materialize

    from churn_assets.defs.features import feature_spec, features
    from churn_assets.defs.ingestion import raw_dataset
    from churn_assets.defs.validation import validate_dataset
    from churn_assets.resources.dataset import DatasetResource
    from churn_assets.resources.parquet_io import LocalParquetIOManager

    timers = _instrument() if params.get("instrument", True) else _Timers()
    rss_after_imports = peak_rss_mb()
    with tempfile.TemporaryDirectory(prefix="churn-bench-io-") as base:
        resources = {
            **_local_resources(base),
            "dataset": DatasetResource(spec="synthetic", n_rows=params["rows"]),
            "io_manager": LocalParquetIOManager(base_dir=base),
        }
        t0, cpu0 = time.perf_counter(), time.process_time()
        instance = DagsterInstance.ephemeral()
        result = materialize(
            [raw_dataset, validate_dataset, feature_spec, features],
            instance=instance,
            resources=resources,
        )
        total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        windows = _step_windows(instance, result.run_id)
    if not result.success:
        raise RuntimeError("materialization failed")
    totals, cpu_totals = _pieces(timers.totals()), _pieces(timers.totals(cpu=True))
    steps = {k: round(end - start, 4) for k, (start, end) in windows.items()}
    per_step: dict[str, dict[str, float]] = {}
    for step, (start, end) in windows.items():
        inside = [(n, s) for n, w, s, _ in timers.calls if start - 0.001 <= w <= end + 0.001]
        per_step[step] = {}
        for name, seconds in inside:
            if not name.startswith("io: serialize"):
                per_step[step][name] = round(per_step[step].get(name, 0.0) + seconds, 4)
    return {
        "rows": params["rows"],
        "seconds": {"total": total},
        "cpu_seconds": {"total": cpu},
        "steps_seconds": steps,
        "outside_steps_seconds": round(total - sum(steps.values()), 4),
        "pieces_seconds": {k: round(v, 4) for k, v in sorted(totals.items())},
        "pieces_cpu_seconds": {k: round(v, 4) for k, v in sorted(cpu_totals.items())},
        "pieces_by_step": per_step,
        "rss_after_imports_mb": rss_after_imports,
    }


if __name__ == "__main__":
    worker_main({"direct": direct, "dagster": dagster})
