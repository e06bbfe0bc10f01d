"""Repeated outer cross-validation of the quality benchmark on the pooled BigML table.

One 667-row test file cannot tell a 0.007 AUC gap from noise. Here both BigML files are pooled
(3,333 rows) and cut by seeded `RepeatedStratifiedKFold` (5 folds: 80% labeled, 20% test). On
every outer split the whole platform path runs as in the other tables (`quality_workers.table`:
a spec naming only source, target and positive label, the out-of-fold choice, the final refit on
all labeled rows) against the three plain baselines fitted on the same rows, and is scored on
the split's test rows, which neither saw. The judgement is the mean over splits of champion
minus best baseline (the best baseline of that split), with the Nadeau-Bengio corrected
resampled t interval (the splits share training rows, so the plain t interval is too narrow).
`python -m benchmarks.quality_cv` runs it alone and prints it (no result file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.model_selection import RepeatedStratifiedKFold

from benchmarks.common import ROOT, row, run_worker

NAME = "quality"
BIGML = ROOT / "churn_assets_tests" / "data" / "bigml"
FILES = ("churn-bigml-80.csv", "churn-bigml-20.csv")
FOLDS, REPEATS, SEED = 5, 1, 2026


def outer_splits(workdir: Path, folds: int, repeats: int, seed: int) -> list[dict[str, Any]]:
    """Write each outer split's labeled and test rows as CSV files (text kept as read) and
    return one `quality_workers.table` task per split."""
    pooled = pd.concat(
        [pd.read_csv(BIGML / f, dtype=str, keep_default_na=False) for f in FILES],
        ignore_index=True,
    )
    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    tasks = []
    for i, (train, test) in enumerate(cv.split(pooled, pooled["Churn"])):
        paths = {part: workdir / f"bigml_cv_{i}_{part}.csv" for part in ("train", "test")}
        pooled.iloc[train].to_csv(paths["train"], index=False)
        pooled.iloc[test].to_csv(paths["test"], index=False)
        tasks.append(
            {
                "name": f"bigml_cv_{i}",
                "train_csv": str(paths["train"]),
                "test_csv": str(paths["test"]),
                "target": "Churn",
                "positive": "True",
                "workdir": str(workdir),
            }
        )
    return tasks


def corrected_interval(diffs: np.ndarray, test_share: float) -> tuple[float, float]:
    """95% Nadeau-Bengio corrected resampled t interval of the mean of `diffs`: the variance
    across splits is inflated by test rows / training rows, since the splits overlap."""
    k = len(diffs)
    variance = (1 / k + test_share / (1 - test_share)) * np.var(diffs, ddof=1)
    half = stats.t.ppf(0.975, k - 1) * np.sqrt(variance)
    return float(diffs.mean() - half), float(diffs.mean() + half)


def summarise(splits: list[dict[str, Any]], folds: int) -> dict[str, Any]:
    """Per-split champion and baselines, and the mean difference with its interval."""
    good = [s for s in splits if "error" not in s]
    if len(good) < 2:
        return {"error": f"{len(splits) - len(good)} of {len(splits)} outer splits failed"}
    champion = np.array([s["champion_test_roc_auc"] for s in good])
    best = np.array([s["baselines"][s["best_baseline"]] for s in good])
    names = list(good[0]["baselines"])
    baselines = {n: float(np.mean([s["baselines"][n] for s in good])) for n in names}
    diffs = champion - best
    low, high = corrected_interval(diffs, 1 / folds)
    # Against each baseline on its own: "the best of three on each split" is picked on the
    # test rows, which flatters the baselines; a fixed baseline is not.
    each = {}
    for n in names:
        d = champion - np.array([s["baselines"][n] for s in good])
        each[n] = {
            "mean": float(d.mean()),
            "ci95_corrected_t": list(corrected_interval(d, 1 / folds)),
        }
    return {
        "splits": len(good),
        "failed": len(splits) - len(good),
        "champion_mean_roc_auc": float(champion.mean()),
        "champion_families": [s["champion_family"] for s in good],
        "baselines_mean_roc_auc": baselines,
        "best_baseline_mean_roc_auc": float(best.mean()),
        "champion_minus_best_baseline": {
            "mean": float(diffs.mean()),
            "ci95_corrected_t": [low, high],
            "per_split": [float(d) for d in diffs],
            "splits_champion_at_least_baseline": int((diffs >= 0).sum()),
        },
        "champion_minus_each_baseline": each,
        **_calibration_means(good),
    }


CALIBRATION_KEYS = ("champion_raw_test_roc_auc", "champion_brier_raw", "champion_brier")


def _calibration_means(good: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over splits of the champion's test Brier before and after its calibration map (and
    its ROC AUC without the map), with the methods chosen; nothing for older split records."""
    if not all(k in s for s in good for k in CALIBRATION_KEYS):
        return {}
    means = {f"{k}_mean": float(np.mean([s[k] for s in good])) for k in CALIBRATION_KEYS}
    return {**means, "champion_calibration": [s["champion_calibration"]["method"] for s in good]}


def run(workdir: Path, folds: int = FOLDS, repeats: int = REPEATS) -> dict[str, Any]:
    """Every outer split in a fresh worker process, then the summary."""
    splits = []
    for task in outer_splits(workdir, folds, repeats, SEED):
        print(f"    {task['name']} ...", flush=True)
        splits.append(run_worker("benchmarks.quality_workers", "table", task, 3600))
    result = summarise(splits, folds)
    params = {"folds": folds, "repeats": repeats, "seed": SEED, "rows": 3333}
    return {**result, "params": params, "per_split": splits}


def summary_row(r: dict[str, Any]) -> dict[str, str]:
    """The table's line of the summary."""
    if "error" in r:
        return row(NAME, "bigml_telecom pooled, repeated outer CV", "error", r["error"])
    gap = r["champion_minus_best_baseline"]
    low, high = gap["ci95_corrected_t"]
    p = r["params"]
    return row(
        NAME,
        f"bigml_telecom pooled 3,333 rows, {p['repeats']}x{p['folds']}-fold outer CV: "
        "champion vs best baseline of each split, mean test ROC AUC",
        f"{r['champion_mean_roc_auc']:.4f} vs {r['best_baseline_mean_roc_auc']:.4f}",
        f"mean difference {gap['mean']:+.4f}, corrected resampled t 95% [{low:+.4f}, {high:+.4f}]"
        f"; champion >= baseline on {gap['splits_champion_at_least_baseline']} of {r['splits']}"
        f" splits; families {r['champion_families']}; against each baseline: "
        + ", ".join(
            f"{n} {e['mean']:+.4f} [{lo:+.4f}, {hi:+.4f}]"
            for n, e in r["champion_minus_each_baseline"].items()
            for lo, hi in [e["ci95_corrected_t"]]
        ),
    )


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="churn-bench-quality-cv-") as tmp:
        print(summary_row(run(Path(tmp))))
