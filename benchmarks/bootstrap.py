"""Bootstrap benchmark: the paired AUC bootstrap of the promotion gate against the plain loop.

`bootstrap_auc_difference` scores 2,000 resamples of the holdout for two models with a rank AUC
vectorised over resamples (`scipy.stats.rankdata(axis=1)`, in chunks). The plain way calls
`sklearn.metrics.roc_auc_score` twice per resample; it is timed on the first `loop_resamples`
resamples and scaled to 2,000 (it is linear in the number of resamples). Both read the same
resample indices, and their per-resample AUC differences are compared to 1e-12, so the speed-up is
of the same numbers.

Run: `python -m benchmarks.bootstrap [--quick]`; writes `benchmarks/results/bootstrap.json`.
Everything runs in this process (CPU time is reported next to wall time: the machine is shared).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from benchmarks.common import load_average, row, timed_call, write_result
from churn_assets.ml.promotion import bootstrap_auc_difference
from churn_assets.ml.promotion.resampling import rank_auc, resample_chunks

NAME = "bootstrap"
RESAMPLES = 2000
SEED = 42


def _holdout(rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded labels (26% churn) and two informative score columns, one weaker."""
    rng = np.random.default_rng(rows)
    y = (rng.random(rows) < 0.26).astype(int)
    good = 1 / (1 + np.exp(-(1.8 * y - 1.2 + rng.normal(0, 1.0, rows))))
    weak = 1 / (1 + np.exp(-(1.4 * y - 1.2 + rng.normal(0, 1.0, rows))))
    return y, np.round(good, 3), np.round(weak, 3)  # rounded: ties, as real scores have


def _loop(y, a, b, n: int) -> np.ndarray:
    """The plain way: roc_auc_score of both models on each of the first `n` resamples."""
    diffs = []
    for idx in resample_chunks(len(y), RESAMPLES, SEED):
        for rows in idx:
            labels = y[rows]
            if labels.min() == labels.max():
                diffs.append(np.nan)
            else:
                diffs.append(roc_auc_score(labels, a[rows]) - roc_auc_score(labels, b[rows]))
            if len(diffs) == n:
                return np.asarray(diffs)
    return np.asarray(diffs)


def _vectorised_diffs(y, a, b, n: int) -> np.ndarray:
    """The same first `n` differences from the vectorised rank AUC the gate uses."""
    diffs = []
    for idx in resample_chunks(len(y), RESAMPLES, SEED):
        labels = y[idx].astype(np.int8)
        n_pos = labels.sum(axis=1, dtype=np.int64).astype(float)
        diffs.append(rank_auc(a[idx], labels, n_pos) - rank_auc(b[idx], labels, n_pos))
        if sum(len(d) for d in diffs) >= n:
            break
    return np.concatenate(diffs)[:n]


def main(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark, write results/bootstrap.json and return its results part."""
    load_at_start = load_average()
    params = {
        "mode": "quick" if quick else "full",
        "rows": [2_000, 20_000] if quick else [2_000, 20_000, 100_000],
        "resamples": RESAMPLES,
        "loop_resamples": 50 if quick else 100,
    }
    results: dict[str, Any] = {}
    summary: list[dict[str, str]] = []
    for rows in params["rows"]:
        y, good, weak = _holdout(rows)
        ours, wall, cpu = timed_call(bootstrap_auc_difference, y, good, weak, RESAMPLES, SEED)
        k = params["loop_resamples"]
        loop, loop_wall, loop_cpu = timed_call(_loop, y, good, weak, k)
        scale = RESAMPLES / k
        agree = float(np.nanmax(np.abs(loop - _vectorised_diffs(y, good, weak, k))))
        results[str(rows)] = {
            "ours_wall_seconds": wall,
            "ours_cpu_seconds": cpu,
            "loop_wall_seconds_scaled": loop_wall * scale,
            "loop_cpu_seconds_scaled": loop_cpu * scale,
            "max_abs_difference_vs_loop": agree,
            "ci": [ours.ci_low, ours.ci_high],
        }
        label = f"{rows:,} holdout rows x {RESAMPLES} resamples"
        summary += [
            row(NAME, f"{label}: paired bootstrap", f"{wall:.2f} s wall / {cpu:.2f} s CPU"),
            row(
                NAME,
                f"{label}: roc_auc_score loop",
                f"{loop_wall * scale:.1f} s wall / {loop_cpu * scale:.1f} s CPU",
                f"scaled from {k} resamples",
            ),
            row(
                NAME,
                f"{label}: speed-up (CPU time)",
                f"{loop_cpu * scale / max(cpu, 1e-9):.1f}x",
                f"same differences: max |diff| {agree:.1e}",
            ),
        ]
    write_result(NAME, params, results, summary, load_at_start)
    return results


run = main  # benchmarks.run calls run(quick=...)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2k and 20k rows only")
    args = parser.parse_args()
    for r in main(quick=args.quick).items():
        print(*r)
