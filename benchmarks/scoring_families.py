"""The scoring benchmark's families: their fixed parameters and the reasons-vs-bare rows.

Part of `benchmarks/scoring.py` (its workers run there); kept apart to keep that file small.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.common import row, run_worker

MODULE = "benchmarks.scoring"
REASONS_TARGET = 3.0  # reasons for predicted churners vs bare predict_proba, CPU time
PATH_TARGET = 1.2  # scoring path without reasons vs bare predict_proba, CPU time
NAME = "scoring"

FAMILY_PARAMS = {
    "logistic_regression": {"model__C": 1.0},
    "random_forest": {
        "model__n_estimators": 100,
        "model__max_depth": 12,
        "model__min_samples_leaf": 4,
        "model__max_features": 0.35,
    },
    "gradient_boosting": {
        "model__learning_rate": 0.1,
        "model__max_leaf_nodes": 31,
        "model__min_samples_leaf": 20,
        "model__l2_regularization": 0.1,
    },
    "xgboost": {
        "model__n_estimators": 250,
        "model__max_depth": 5,
        "model__learning_rate": 0.1,
        "model__subsample": 0.8,
        "model__colsample_bytree": 0.8,
    },
}


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if "error" not in r]
    if not good:
        return {"error": runs[0].get("error"), "runs": runs}
    merged = dict(good[0])
    for key in ("seconds", "cpu_seconds", "process_seconds", "peak_rss_mb"):
        merged[key] = round(statistics.median(r[key] for r in good), 4)
    merged["repeats"] = len(good)
    merged["runs_seconds"] = [r.get("seconds") for r in runs]
    merged["runs_cpu_seconds"] = [r.get("cpu_seconds") for r in runs]
    merged["runs_load_1min"] = [r.get("load_1min") for r in runs]
    return merged


def reasons_entry(p: dict[str, Any], n: int) -> dict[str, Any]:
    """Bare predict_proba and the path with reasons, alternating, in fresh processes."""
    bare, reasons = [], []
    for _ in range(n):
        bare.append(run_worker(MODULE, "bare", p, timeout=900))
        reasons.append(run_worker(MODULE, "reasons", p, timeout=1800))
    entry = {"bare": median(bare), "reasons": median(reasons)}
    b, r = entry["bare"], entry["reasons"]
    if "error" not in b and "error" not in r:
        entry["reasons_ratio_wall"] = round(r["seconds"] / b["seconds"], 2)
        entry["reasons_ratio_cpu"] = round(r["cpu_seconds"] / b["cpu_seconds"], 2)
    return entry


def reasons_row(family: str, rows: int, entry: dict[str, Any], n: int) -> dict[str, str]:
    label = f"{rows:,} rows, {family}: scoring path with top reasons for predicted churners"
    if "reasons_ratio_cpu" not in entry:
        return row(NAME, label, "error", str(entry)[:300])
    b, r = entry["bare"], entry["reasons"]
    met = "met" if entry["reasons_ratio_cpu"] <= REASONS_TARGET else "MISSED"
    return row(
        NAME,
        label,
        f"{entry['reasons_ratio_cpu']:.2f}x bare CPU",
        f"{r['cpu_seconds']:.2f} s vs {b['cpu_seconds']:.2f} s CPU, "
        f"{entry['reasons_ratio_wall']:.2f}x wall (target <= {REASONS_TARGET:.0f}x CPU: {met}); "
        f"{r['explained_rows']:,} explained rows, occlusion in the design matrix; n={n}",
    )


def path_rows(rows: int, entry: dict[str, Any], n: int) -> list[dict[str, str]]:
    """The path-vs-bare rows of one size. Judged on CPU time, as every target of this benchmark
    (benchmarks/README.md): at load 3-12 on 2 cores the wall times stretch several-fold and
    unevenly between runs; the wall ratio is reported beside it."""
    b, s = entry["bare"], entry["path"]
    label = f"{rows:,} rows"
    met = "met" if entry["ratio_cpu"] <= PATH_TARGET else "MISSED"
    return [
        row(
            NAME,
            f"{label}: bare predict_proba",
            f"{entry['bare_rows_per_second']:,} rows/s",
            f"{b['seconds']:.2f} s wall, {b['cpu_seconds']:.2f} s CPU, n={n}",
        ),
        row(
            NAME,
            f"{label}: scoring path, no reasons",
            f"{entry['path_rows_per_second']:,} rows/s",
            f"{s['seconds']:.2f} s wall, {s['cpu_seconds']:.2f} s CPU, n={n}",
        ),
        row(
            NAME,
            f"{label}: ratio path / bare (CPU time)",
            f"{entry['ratio_cpu']:.2f}",
            f"target <= {PATH_TARGET} CPU: {met}; wall-time ratio {entry['ratio_wall']:.2f}",
        ),
    ]
