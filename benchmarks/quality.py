"""Model quality by configuration alone: the champion against three plain scikit-learn baselines.

`python -m benchmarks.run --only quality` writes results/quality.json. Tables: the BigML telecom
80% file (trained on) and its publisher's 20% file (tested on), and two synthetic tables with
different churn functions (`logistic`, the default, and `interactions`), each trained on one
seeded table and tested on another drawn with a different seed. Goal (issue 12): the champion's
test ROC AUC at least the best baseline's on each table, and at least 0.93 on BigML. Each row
also gives the paired bootstrap interval of the champion's AUC minus the best baseline's on the
same test rows (how much of a gap the test file's size can tell apart from noise). A fourth row
is not "by configuration alone": the BigML files with the shipped spec's `sum_features` entry.
A fifth table, `bigml_telecom_cv` (`benchmarks/quality_cv.py`), pools both BigML files and
judges the same comparison by repeated outer cross-validation instead of one 667-row file.
`python -m benchmarks.quality bigml_telecom` runs one table and only prints it;
`python -m benchmarks.quality --merge bigml_telecom` also merges it into results/quality.json.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import quality_cv
from benchmarks.common import (
    RESULTS_DIR,
    ROOT,
    load_average,
    machine_info,
    row,
    run_worker,
    write_result,
)

NAME = "quality"
BIGML = ROOT / "churn_assets_tests" / "data" / "bigml"
# The publisher's 80% and 20% files, with what the spec names (source, target, positive label).
BIGML_TABLE = {
    "train_csv": str(BIGML / "churn-bigml-80.csv"),
    "test_csv": str(BIGML / "churn-bigml-20.csv"),
    "target": "Churn",
    "positive": "True",
}
BIGML_GOAL = 0.93
SUM_FEATURES = """sum_features:
  Total charge: [Total day charge, Total eve charge, Total night charge, Total intl charge]
  Total minutes: [Total day minutes, Total eve minutes, Total night minutes, Total intl minutes]
"""


def _synthetic(workdir: Path, function: str, rows: int) -> dict[str, Any]:
    from churn_assets.ml.synthetic import write_synthetic

    paths = {}
    for part, seed in (("train", 101), ("test", 202)):
        paths[part] = workdir / f"synthetic_{function}_{part}.csv"
        write_synthetic(paths[part], rows, seed=seed, churn_function=function)
    return {
        "name": f"synthetic_{function}",
        "train_csv": str(paths["train"]),
        "test_csv": str(paths["test"]),
        "target": "churn",
        "positive": "Yes",
    }


def _summary(name: str, r: dict[str, Any]) -> list[dict[str, str]]:
    if "error" in r:
        return [row(NAME, name, "error", r["error"].splitlines()[-1])]
    best = r["best_baseline"]
    champion, baseline = r["champion_test_roc_auc"], r["baselines"][best]
    goal = baseline if not name.startswith("bigml") else max(baseline, BIGML_GOAL)
    verdict = "met" if champion >= goal else "missed"
    gap = r["champion_minus_best_baseline"]
    return [
        row(
            NAME,
            f"{name}: champion ({r['champion_family']}) vs best baseline ({best}), test ROC AUC",
            f"{champion:.4f} vs {baseline:.4f}",
            f"goal >= {goal:.4f}: {verdict}; difference {gap['diff']:+.4f}, paired bootstrap 95% "
            f"[{gap['ci95'][0]:+.4f}, {gap['ci95'][1]:+.4f}]; "
            f"before refit {r['champion_before_refit_test_roc_auc']:.4f}; "
            f"old rule (holdout pick, {r['old_rule_family']}) {r['old_rule_test_roc_auc']:.4f}; "
            f"soft vote {r['soft_vote_test_roc_auc']:.4f}; {_calibration_note(r, champion)}",
        )
    ]


def _calibration_note(r: dict[str, Any], champion: float) -> str:
    if "champion_calibration" not in r:  # a result measured before calibration was built
        return (
            f"Brier {r['champion_brier']:.4f} -> {r['champion_isotonic_brier']:.4f} isotonic "
            "(not in the platform then)"
        )
    return (
        f"calibration {r['champion_calibration']['method']}: Brier "
        f"{r['champion_brier_raw']:.4f} -> {r['champion_brier']:.4f}, log loss "
        f"{r['champion_log_loss_raw']:.4f} -> {r['champion_log_loss']:.4f}, ROC AUC "
        f"{r['champion_raw_test_roc_auc']:.4f} -> {champion:.4f}"
    )


def main(quick: bool = False, only: list[str] | None = None, merge: bool = False) -> dict[str, Any]:
    """Run the tables (those named in `only`, else all). A full run writes results/quality.json;
    a run of some tables only prints their rows (one table's figures never stand for all),
    unless `merge`: then each table measured replaces its entry in results/quality.json,
    stamped with its own commit and time (`measured`), beside the others' earlier results."""
    load_at_start = load_average()
    rows = 2_000 if quick else 4_000
    params = {
        "synthetic_rows": rows,
        "budget": "the platform default (TrainingConfig): halving search, 9 candidates, 3 folds",
    }
    results: dict[str, Any] = {}
    summary: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="churn-bench-quality-") as tmp:
        workdir = Path(tmp)
        tables = [
            {"name": "bigml_telecom", **BIGML_TABLE},
            _synthetic(workdir, "logistic", rows),
            _synthetic(workdir, "interactions", rows),
            # Not "by configuration alone": what one spec entry (the shipped spec's) adds.
            {
                "name": "bigml_telecom_sum_features",
                **BIGML_TABLE,
                "spec_extra": SUM_FEATURES,
            },
        ]
        names = [t["name"] for t in tables] + ["bigml_telecom_cv"]
        unknown = set(only or []) - set(names)
        if unknown:
            raise SystemExit(f"unknown table(s) {sorted(unknown)}; tables: {names}")
        for table in [t for t in tables if not only or t["name"] in only]:
            print(f"  {table['name']} ...", flush=True)
            task = {**table, "workdir": tmp}
            results[table["name"]] = run_worker("benchmarks.quality_workers", "table", task, 3600)
            summary += _summary(table["name"], results[table["name"]])
        if not only or "bigml_telecom_cv" in only:
            print("  bigml_telecom_cv ...", flush=True)
            results["bigml_telecom_cv"] = quality_cv.run(workdir)
            summary.append(quality_cv.summary_row(results["bigml_telecom_cv"]))
    if not only:
        write_result(NAME, params, results, summary, load_at_start)
    elif merge:
        params, results, summary = _merged(params, results, load_at_start, names)
        write_result(NAME, params, results, summary, load_at_start)
    return {"params": params, "results": results, "summary": summary}


def _merged(params, measured: dict[str, Any], load_at_start, names: list[str]):
    """The stored results with `measured` tables replaced (each stamped), and the summary of
    them all, in the benchmark's order."""
    document = json.loads((RESULTS_DIR / f"{NAME}.json").read_text())
    stamp = machine_info(load_at_start)
    results = document["results"]
    for name, result in measured.items():
        results[name] = {**result, "measured": stamp}
    summary = []
    for name in [n for n in names if n in results]:
        if name == "bigml_telecom_cv":
            summary.append(quality_cv.summary_row(results[name]))
        else:
            summary += _summary(name, results[name])
    merged = {**document["params"], "merged": {**document["params"].get("merged", {})}}
    merged["merged"].update({n: f"{stamp['git_sha']} {stamp['timestamp']}" for n in measured})
    return {**params, **merged}, results, summary


if __name__ == "__main__":
    import sys

    # `python -m benchmarks.quality bigml_telecom`: one table, printed, no result file written
    # (its full result is the last line, as JSON); with `--merge`, merged into the file.
    tables = [a for a in sys.argv[1:] if not a.startswith("--")]
    measured = main(only=tables or None, merge="--merge" in sys.argv)
    for line in measured["summary"]:
        print(line)
    print(json.dumps(measured["results"], default=str))
