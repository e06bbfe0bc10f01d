"""Shared plumbing: machine facts, fresh-subprocess workers, result files and medians.

Every measurement runs in its own Python process (`run_worker`), so import caches, allocator state
and the peak-RSS high-water mark of one measurement never leak into the next.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def git_sha() -> str:
    """The checked-out commit (with `-dirty` when the tree has changes), or 'unknown'."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def machine_info(load_at_start: list[float]) -> dict[str, Any]:
    """CPU count, platform, Python, load averages (start and end of the benchmark), sha, time."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_start": load_at_start,
        "load_average_end": load_average(),
        "git_sha": git_sha(),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux)."""
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale, 1)


def run_worker(module: str, task: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run `python -m <module> <task> <params-json> <out-file>` in a fresh process.

    Returns the worker's JSON result plus `process_seconds` (wall time of the whole process,
    imports included) and `load_1min` (the 1-minute load average just before it started). A
    failure or a timeout returns `{"error": ...}` instead of raising, so one bad point does not
    lose the rest of a benchmark.
    """
    with tempfile.TemporaryDirectory(prefix="churn-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", module, task, json.dumps(params), str(out)]
        load = os.getloadavg()[0]
        started = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f}s", "load_1min": round(load, 2)}
        elapsed = time.perf_counter() - started
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
            return {"error": "\n".join(tail), "load_1min": round(load, 2)}
        result = json.loads(out.read_text())
    result["process_seconds"] = round(elapsed, 3)
    result["load_1min"] = round(load, 2)
    return result


def median_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Field-wise median of numeric values (nested dicts too) over the runs without an error;
    other values come from the first of them. Adds `repeats`, the number of runs used."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    merged = _median_fields(good)
    merged["repeats"] = len(good)
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        merged["failed_runs"] = errors
    return merged


def _median_fields(good: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key, first in good[0].items():
        values = [r.get(key) for r in good]
        if isinstance(first, bool) or not all(isinstance(v, int | float | dict) for v in values):
            merged[key] = first
        elif isinstance(first, dict):
            merged[key] = _median_fields([v for v in values if isinstance(v, dict)])
        else:
            merged[key] = round(statistics.median(values), 4)
    return merged


def measure(
    module: str,
    task: str,
    params: dict[str, Any],
    timeout: float,
    repeat_under: float = 0.0,
    repeats: int = 3,
) -> dict[str, Any]:
    """One worker run; when it took less than `repeat_under` seconds, run it `repeats` times in
    all and return the median (the individual runs are kept under `runs`)."""
    first = run_worker(module, task, params, timeout)
    if "error" in first or first["process_seconds"] >= repeat_under or repeats <= 1:
        return {**first, "repeats": 1 if "error" not in first else 0}
    runs = [first] + [run_worker(module, task, params, timeout) for _ in range(repeats - 1)]
    merged = median_runs(runs)
    merged["runs"] = runs
    return merged


def write_result(
    name: str,
    params: dict[str, Any],
    results: dict[str, Any],
    summary: list[dict[str, str]],
    load_at_start: list[float],
) -> Path:
    """Write `results/<name>.json` with name, params, results, summary rows and machine facts."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {
        "name": name,
        "params": params,
        "results": results,
        "summary": summary,
        "machine": machine_info(load_at_start),
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def worker_main(tasks: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> None:
    """Entry point of a worker module: `<task> <params-json> <out-file>`."""
    task, params, out = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
    result = tasks[task](params)
    result["peak_rss_mb"] = peak_rss_mb()
    out.write_text(json.dumps(result, default=str))


def timed_call(fn, *args) -> tuple[Any, float, float]:
    """`fn(*args)` with its wall and CPU seconds (this process, all threads): (out, wall, cpu)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def row(benchmark: str, measurement: str, value: str, note: str = "") -> dict[str, str]:
    """One line of the summary table."""
    return {"benchmark": benchmark, "measurement": measurement, "value": value, "note": note}
