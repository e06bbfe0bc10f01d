"""Model quality by configuration alone: the champion against three plain scikit-learn baselines.

`python -m benchmarks.run --only quality` writes results/quality.json. Tables: the BigML telecom
80% file (trained on) and its publisher's 20% file (tested on), and two synthetic tables with
different churn functions (`logistic`, the default, and `interactions`), each trained on one
seeded table and tested on another drawn with a different seed. Goal (issue 12): the champion's
test ROC AUC at least the best baseline's on each table, and at least 0.93 on BigML.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, load_average, row, run_worker, write_result

NAME = "quality"
BIGML = ROOT / "churn_assets_tests" / "data" / "bigml"
BIGML_GOAL = 0.93


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
    return [
        row(
            NAME,
            f"{name}: champion ({r['champion_family']}) vs best baseline ({best}), test ROC AUC",
            f"{champion:.4f} vs {baseline:.4f}",
            f"goal >= {goal:.4f}: {verdict}; "
            f"before refit {r['champion_before_refit_test_roc_auc']:.4f}; "
            f"old rule (holdout pick, {r['old_rule_family']}) {r['old_rule_test_roc_auc']:.4f}; "
            f"soft vote {r['soft_vote_test_roc_auc']:.4f}; Brier {r['champion_brier']:.4f} -> "
            f"{r['champion_isotonic_brier']:.4f} isotonic",
        )
    ]


def main(quick: bool = False) -> dict[str, Any]:
    load_at_start = load_average()
    rows = 2_000 if quick else 4_000
    params = {"synthetic_rows": rows, "budget": "SearchBudget() defaults: 8 trials, 5 folds"}
    results: dict[str, Any] = {}
    summary: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="churn-bench-quality-") as tmp:
        workdir = Path(tmp)
        tables = [
            {
                "name": "bigml_telecom",
                "train_csv": str(BIGML / "churn-bigml-80.csv"),
                "test_csv": str(BIGML / "churn-bigml-20.csv"),
                "target": "Churn",
                "positive": "True",
            },
            _synthetic(workdir, "logistic", rows),
            _synthetic(workdir, "interactions", rows),
        ]
        for table in tables:
            print(f"  {table['name']} ...", flush=True)
            task = {**table, "workdir": tmp}
            results[table["name"]] = run_worker("benchmarks.quality_workers", "table", task, 3600)
            summary += _summary(table["name"], results[table["name"]])
    write_result(NAME, params, results, summary, load_at_start)
    return {"params": params, "results": results, "summary": summary}


if __name__ == "__main__":
    for line in main()["summary"]:
        print(line)
