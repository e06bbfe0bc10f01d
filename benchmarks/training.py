"""Training benchmark: search time per family, single fits, MLflow cost, and search time-to-quality.

(a) train_family (default SearchBudget with n_iter=4, cv_folds=3) per family, and one fit with
fixed parameters per family on a larger table; (b) the same family trained without and with the
MLflow logging of `train_and_log`; (c) best CV ROC AUC against wall time for RandomizedSearchCV
at several n_iter and for GridSearchCV over a discretised space. See training_workers.py.
"""

from __future__ import annotations

import tempfile
from typing import Any

from benchmarks.common import load_average, measure, row, write_result

NAME = "training"
WORKER = "benchmarks.training_workers"
FAMILIES = ("logistic_regression", "random_forest", "gradient_boosting", "xgboost")

# The discretised gradient-boosting space for GridSearchCV (values inside the default ranges).
GRID_FULL = {
    "model__learning_rate": [0.03, 0.1, 0.3],
    "model__max_iter": [50, 150, 300],
    "model__max_leaf_nodes": [8, 31, 63],
    "model__min_samples_leaf": [10, 100],
    "model__l2_regularization": [1e-4, 1.0],
}
GRID_QUICK = {
    "model__learning_rate": [0.03, 0.1, 0.3],
    "model__max_iter": [50, 300],
    "model__max_leaf_nodes": [8, 31, 63],
    "model__min_samples_leaf": [50],
    "model__l2_regularization": [0.01],
}


def _params(quick: bool) -> dict[str, Any]:
    return {
        "mode": "quick" if quick else "full",
        "search": {
            "rows": 20_000 if quick else 100_000,
            "n_iter": 4,
            "cv_folds": 3,
            "families": list(FAMILIES),
        },
        "single_fit": {"rows": 100_000 if quick else 1_000_000, "families": list(FAMILIES)},
        "mlflow": {
            "rows": 20_000,
            "n_iter": 4,
            "cv_folds": 3,
            "families": ["logistic_regression", "gradient_boosting"] if quick else list(FAMILIES),
            "store": "sqlite in a temp dir; skops model via resources.mlflow_models.log_pipeline",
        },
        "quality": {
            "rows": 20_000,
            "family": "gradient_boosting",
            "cv_folds": 3,
            "n_iter": [2, 4, 8, 16],
            "grid": GRID_QUICK if quick else GRID_FULL,
            "refit": False,
        },
        "threads_per_fit": 1,
        "n_jobs": 1,
        "repeat_under_seconds": 15,
        "timeout_seconds": 1800,
        "peak_memory": "ru_maxrss of the worker process (getrusage RUSAGE_SELF), imports included",
    }


def _prepare(cache: str, rows: set[int], timeout: float) -> dict[str, Any]:
    return {str(n): measure(WORKER, "prepare", {"rows": n, "cache": cache}, timeout) for n in rows}


def _search(p: dict[str, Any], cache: str, summary: list, timeout: float, repeat: float) -> dict:
    out = {}
    for family in p["search"]["families"]:
        args = {**p["search"], "family": family, "cache": cache}
        args.pop("families")
        res = measure(WORKER, "search", args, timeout, repeat_under=repeat)
        out[family] = res
        label = f"(a) search {family}, {p['search']['rows']:,} rows"
        if "error" in res:
            summary.append(row(NAME, label, "error", res["error"].splitlines()[-1]))
            continue
        summary.append(
            row(
                NAME,
                label,
                f"{res['fit_seconds']:.1f} s",
                f"{res['fits']} fits, CV AUC {res['cv_roc_auc']:.4f}, "
                f"peak RSS {res['peak_rss_mb']:.0f} MiB",
            )
        )
    return out


def _single(p: dict[str, Any], cache: str, summary: list, timeout: float, repeat: float) -> dict:
    out = {}
    rows = p["single_fit"]["rows"]
    for family in p["single_fit"]["families"]:
        args = {"rows": rows, "family": family, "cache": cache}
        res = measure(WORKER, "single_fit", args, timeout, repeat_under=repeat)
        out[family] = res
        label = f"(a) single fit {family}, {rows:,} rows"
        if "error" in res:
            summary.append(row(NAME, label, "error", res["error"].splitlines()[-1]))
            continue
        summary.append(
            row(
                NAME,
                label,
                f"{res['seconds']:.1f} s",
                f"holdout AUC {res['holdout_roc_auc']:.4f}, predict {res['predict_seconds']:.1f} s,"
                f" peak RSS {res['peak_rss_mb']:.0f} MiB",
            )
        )
    return out


def _mlflow(p: dict[str, Any], cache: str, summary: list, timeout: float) -> dict:
    out = {}
    for family in p["mlflow"]["families"]:
        base = {k: p["mlflow"][k] for k in ("rows", "n_iter", "cv_folds")}
        args = {**base, "family": family, "cache": cache}
        without = measure(WORKER, "mlflow_cost", {**args, "log": False}, timeout)
        with_log = measure(WORKER, "mlflow_cost", {**args, "log": True}, timeout)
        entry: dict[str, Any] = {"without_logging": without, "with_logging": with_log}
        out[family] = entry
        label = f"(b) MLflow cost {family}, {p['mlflow']['rows']:,} rows"
        if "error" in without or "error" in with_log:
            err = (without.get("error") or with_log.get("error")).splitlines()[-1]
            summary.append(row(NAME, label, "error", err))
            continue
        log = with_log["log_seconds"]
        train = with_log["train_seconds"]
        entry["logging_seconds_per_run"] = round(log["per_run"], 3)
        entry["logging_percent_of_training"] = round(100 * log["per_run"] / train, 1)
        entry["total_seconds_without_vs_with"] = [without["seconds"], with_log["seconds"]]
        summary.append(
            row(
                NAME,
                label,
                f"+{log['per_run']:.1f} s ({entry['logging_percent_of_training']:.0f}%)",
                f"train {train:.1f} s; totals without/with {without['seconds']:.1f}/"
                f"{with_log['seconds']:.1f} s; log_model {log['log_model_skops']:.1f} s of which "
                f"pip inference {log['of_which_pip_requirements_inference']:.1f} s; with "
                f"pip_requirements given {log['log_model_with_pip_requirements_given']:.2f} s; "
                f"fresh store init {log['store_init']:.1f} s; model {log['artifact_mb']:.1f} MiB",
            )
        )
    return out


def _quality(p: dict[str, Any], cache: str, summary: list, timeout: float, repeat: float) -> dict:
    q = p["quality"]
    base = {"rows": q["rows"], "family": q["family"], "cv_folds": q["cv_folds"], "cache": cache}
    out: dict[str, Any] = {}
    points = [("random", n) for n in q["n_iter"]] + [("grid", None)]
    for kind, n_iter in points:
        args = {**base, "kind": kind, "n_iter": n_iter, "grid": q["grid"]}
        res = measure(WORKER, "search_quality", args, timeout, repeat_under=repeat)
        key = f"random_n_iter_{n_iter}" if kind == "random" else "grid"
        out[key] = res
        label = f"(c) {q['family']} {key}, {q['rows']:,} rows"
        if "error" in res:
            summary.append(row(NAME, label, "error", res["error"].splitlines()[-1]))
            continue
        summary.append(
            row(
                NAME,
                label,
                f"{res['seconds']:.1f} s -> AUC {res['best_cv_roc_auc']:.4f}",
                f"{res['candidates']} candidates x {q['cv_folds']} folds",
            )
        )
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark, write results/training.json, return the document's parts."""
    load_at_start = load_average()
    p = _params(quick)
    timeout, repeat = p["timeout_seconds"], p["repeat_under_seconds"]
    summary: list[dict[str, str]] = []
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="churn-bench-features-") as cache:
        sizes = {p["search"]["rows"], p["single_fit"]["rows"], p["mlflow"]["rows"]}
        results["prepare"] = _prepare(cache, sizes | {p["quality"]["rows"]}, timeout)
        results["search"] = _search(p, cache, summary, timeout, repeat)
        results["single_fit"] = _single(p, cache, summary, timeout, repeat)
        results["mlflow"] = _mlflow(p, cache, summary, timeout)
        results["quality"] = _quality(p, cache, summary, timeout, repeat)
    write_result(NAME, p, results, summary, load_at_start)
    return {"params": p, "results": results, "summary": summary}
