"""Data-assets benchmark: Dagster materialization of the data assets versus the bare functions.

(a) `dagster.materialize` of raw_dataset -> validate_dataset -> features on an ephemeral instance
with the local Parquet IO manager in a temp dir; (b) load_table -> validate -> build_features in
one process with no IO. Both at each row count, each run in a fresh process (see data_workers.py).
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import load_average, measure, row, write_result

NAME = "data_assets"
WORKER = "benchmarks.data_workers"
TARGET_RATIO = 1.15


def _params(quick: bool) -> dict[str, Any]:
    return {
        "rows": [100_000, 1_000_000],
        "spec": "synthetic (packaged default spec, n_rows overridden)",
        # Runs shorter than this are repeated 3 times and the median kept.
        "repeat_under_seconds": 20 if quick else 120,
        "timeout_seconds": 900,
        "target_ratio_at_1m": TARGET_RATIO,
        "peak_memory": "ru_maxrss of the worker process (getrusage RUSAGE_SELF), imports included",
    }


def _where_time_goes(dag: dict[str, Any], direct: dict[str, Any]) -> dict[str, float]:
    """Dagster seconds minus direct seconds, split into the instrumented pieces."""
    pieces = dict(dag.get("pieces_seconds", {}))
    compute = sum(v for k, v in pieces.items() if k.startswith("compute:"))
    extra = {k: v for k, v in pieces.items() if not k.startswith("compute:")}
    extra["compute slower than direct (same functions)"] = compute - direct["seconds"]["total"]
    steps = sum(dag.get("steps_seconds", {}).values())
    extra["dagster: outside steps (instance, run start/end)"] = dag["outside_steps_seconds"]
    extra["inside steps, untimed (asset bodies, events, type checks)"] = steps - sum(
        pieces.values()
    )
    return {k: round(v, 3) for k, v in sorted(extra.items(), key=lambda kv: -kv[1])}


def _where_cpu_goes(dag: dict[str, Any], direct: dict[str, Any]) -> dict[str, float]:
    """Dagster CPU seconds minus direct CPU seconds, split the same way (process CPU time, all
    threads); what no timer covers is Dagster's own work inside and around the steps."""
    pieces = dict(dag.get("pieces_cpu_seconds", {}))
    if not pieces:
        return {}
    compute = sum(v for k, v in pieces.items() if k.startswith("compute:"))
    extra = {k: v for k, v in pieces.items() if not k.startswith("compute:")}
    extra["compute slower than direct (same functions)"] = compute - direct["cpu_seconds"]["total"]
    extra["dagster: untimed (run, events, type checks, asset bodies)"] = dag["cpu_seconds"][
        "total"
    ] - sum(pieces.values())
    return {k: round(v, 3) for k, v in sorted(extra.items(), key=lambda kv: -kv[1])}


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark, write results/data_assets.json, return the document's parts."""
    load_at_start = load_average()
    params = _params(quick)
    results: dict[str, Any] = {}
    summary: list[dict[str, str]] = []
    for rows in params["rows"]:
        repeat = params["repeat_under_seconds"]
        timeout = params["timeout_seconds"]
        direct = measure(WORKER, "direct", {"rows": rows}, timeout, repeat_under=repeat)
        dag = measure(WORKER, "dagster", {"rows": rows}, timeout, repeat_under=repeat)
        entry: dict[str, Any] = {"direct": direct, "dagster": dag}
        label = f"{rows:,} rows"
        if "error" in direct or "error" in dag:
            summary.append(row(NAME, label, "error", direct.get("error") or dag.get("error")))
            results[str(rows)] = entry
            continue
        ratio = dag["seconds"]["total"] / direct["seconds"]["total"]
        entry["ratio_dagster_over_direct"] = round(ratio, 3)
        if "cpu_seconds" in dag and "cpu_seconds" in direct:  # robust to a busy machine
            cpu_ratio = dag["cpu_seconds"]["total"] / direct["cpu_seconds"]["total"]
            entry["ratio_cpu_dagster_over_direct"] = round(cpu_ratio, 3)
        entry["validate_rows_per_second"] = round(direct["validate_rows_per_second"])
        entry["dagster_extra_seconds_by_piece"] = _where_time_goes(dag, direct)
        entry["dagster_extra_cpu_seconds_by_piece"] = _where_cpu_goes(dag, direct)
        results[str(rows)] = entry
        verdict = "" if rows < 1_000_000 else (" (meets" if ratio <= TARGET_RATIO else " (misses")
        verdict += f" target <= {TARGET_RATIO})" if verdict else ""
        summary += [
            row(
                NAME,
                f"{label}: direct (b) wall",
                f"{direct['seconds']['total']:.2f} s",
                f"peak RSS {direct['peak_rss_mb']:.0f} MiB, n={direct['repeats']}",
            ),
            row(
                NAME,
                f"{label}: Dagster (a) wall",
                f"{dag['seconds']['total']:.2f} s",
                f"peak RSS {dag['peak_rss_mb']:.0f} MiB, n={dag['repeats']}",
            ),
            row(
                NAME,
                f"{label}: ratio (a)/(b)",
                f"{ratio:.2f}",
                f"CPU-time ratio {entry.get('ratio_cpu_dagster_over_direct', float('nan')):.2f}"
                + (f"; {verdict.strip()}" if verdict else ""),
            ),
            row(
                NAME,
                f"{label}: validate() throughput",
                f"{direct['validate_rows_per_second']:,.0f} rows/s",
                f"{direct['seconds']['validate']:.2f} s",
            ),
        ]
        if ratio > TARGET_RATIO:
            top = list(entry["dagster_extra_seconds_by_piece"].items())[:4]
            summary.append(
                row(
                    NAME,
                    f"{label}: largest extra pieces",
                    "; ".join(f"{k} {v:.2f} s" for k, v in top),
                )
            )
    write_result(NAME, params, results, summary, load_at_start)
    return {"params": params, "results": results, "summary": summary}
