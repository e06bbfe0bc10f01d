"""Training at scale: `training_job` on 100k, 1M (and 5M) synthetic rows, as a user runs it.

Each size runs `churn-assets run --job training_job --spec <synthetic spec with n_rows=N>` in a
fresh process with its own CHURN_HOME (SQLite Dagster instance, Parquet assets, MLflow store), so
everything the job does is timed: data assets, the four families' search + out-of-fold + refit,
MLflow logging, evaluation, promotion, drift reference and explanation baseline. Recorded: wall
and CPU seconds, peak RSS (largest process, and the summed process tree sampled twice a second),
each step's duration, and each family's holdout ROC AUC beside its best single fit at that size
(`results/training_1m.json`, fixed parameters, measured on a quiet machine).

`python -m benchmarks.scale [--quick] [--rows=100000,1000000,5000000] [--timeout=SECONDS]`;
full = 100k, 1M and 5M (about 90 minutes), quick = 100k only. Each size is merged into
`results/scale.json` (sizes run apart stay side by side); a size stopped at the timeout keeps
the steps and families it finished.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import RESULTS_DIR, ROOT, git_sha, load_average, row, write_result
from benchmarks.first_run import clean_env, family_seconds, timed

NAME = "scale"
SIZES_FULL = (100_000, 1_000_000, 5_000_000)  # about 10 + 15 + 66 min on 2 cores
SIZES_QUICK = (100_000,)
TIMEOUT = 7200
TARGET = {"1M_wall_seconds": 900, "auc_tolerance": 0.002, "5M_over_1M": 5.5, "5M_rss_gb": 8}


def single_fit_aucs(rows: int) -> dict[str, float]:
    """Holdout AUC of each family's single fit (fixed parameters) at `rows` rows, from the
    training benchmarks' results (`training.json`: 100k, `training_1m.json`: 1M), if measured."""
    import json

    for name in ("training.json", "training_1m.json"):
        path = RESULTS_DIR / name
        if not path.exists():
            continue
        doc = json.loads(path.read_text())
        if doc["params"].get("single_fit", {}).get("rows") != rows:
            continue
        fits = doc["results"].get("single_fit", {})
        return {f: r["holdout_roc_auc"] for f, r in fits.items() if "holdout_roc_auc" in r}
    return {}


def step_seconds(home: Path) -> dict[str, float]:
    """Duration of each step of the newest run on the instance under `home`."""
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        runs = instance.get_runs(limit=1)  # none when the run was stopped before it started
        stats = instance.get_run_step_stats(runs[0].run_id) if runs else []
    os.environ.pop("DAGSTER_HOME", None)
    done = [s for s in stats if s.end_time and s.start_time]
    return {s.step_key: round(s.end_time - s.start_time, 1) for s in done}


def run_size(rows: int, tmp: Path, timeout: float = TIMEOUT) -> dict[str, Any]:
    """training_job on `rows` synthetic rows in a private home; what it cost and scored. A run
    stopped at `timeout` seconds keeps what it reached (the steps and families it finished)."""
    spec = yaml.safe_load((ROOT / "churn_assets/datasets/synthetic.yaml").read_text())
    spec["source"]["synthetic"]["n_rows"] = rows
    spec_path = tmp / f"synthetic_{rows}.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    home = tmp / f"home_{rows}"
    env = clean_env(home)
    env["PYTHONPATH"] = str(ROOT)
    cli = str(Path(sys.executable).parent / "churn-assets")
    load_before = load_average()
    result = timed(
        [cli, "run", "--job", "training_job", "--spec", str(spec_path)], ROOT, env, timeout
    )
    result["rows"] = rows
    result["timeout_seconds"] = timeout
    result["git_sha"] = git_sha()
    result["load_1min_before_after"] = [load_before[0], load_average()[0]]
    result["families"] = family_seconds(home)
    result["steps"] = step_seconds(home)
    singles = single_fit_aucs(rows)
    for family, fam in result["families"].items():
        if family in singles:
            fam["single_fit_roc_auc"] = singles[family]
            fam["gap_to_single_fit"] = round(singles[family] - fam["holdout_roc_auc"], 4)
    return result


def run(
    quick: bool = False, sizes: tuple[int, ...] | None = None, timeout: float = TIMEOUT
) -> dict[str, Any]:
    """Run `training_job` at each size; results are merged into `results/scale.json` by size,
    so sizes measured in separate runs (one lock each) stand side by side."""
    load_at_start = load_average()
    sizes = sizes or (SIZES_QUICK if quick else SIZES_FULL)
    results = _previous_results()
    with tempfile.TemporaryDirectory(prefix="churn-scale-") as tmp:
        for rows in sizes:
            results[str(rows)] = run_size(rows, Path(tmp), timeout)
    summary: list[dict[str, str]] = []
    for key in sorted(results, key=int):
        _summarise(results[key], summary)
    if "1000000" in results and "5000000" in results:
        ratio = results["5000000"]["wall_seconds"] / results["1000000"]["wall_seconds"]
        summary.append(row(NAME, "5M / 1M wall", f"{ratio:.2f}x", "target <= 5.5x"))
    params = {
        "sizes": sorted(int(k) for k in results),
        "last_run_sizes": list(sizes),
        "target": TARGET,
        "mode": "quick" if quick else "full",
    }
    write_result(NAME, params, results, summary, load_at_start)
    return {"params": params, "results": results, "summary": summary}


def _previous_results() -> dict[str, Any]:
    """The sizes measured before (results/scale.json), each with its own load and git sha."""
    import json

    path = RESULTS_DIR / f"{NAME}.json"
    return json.loads(path.read_text()).get("results", {}) if path.exists() else {}


def _summarise(res: dict[str, Any], summary: list) -> None:
    rows = res["rows"]
    tail = res["output_tail"][-1] if res["output_tail"] else "no output"
    ok = "SUCCESS" if res["returncode"] == 0 else f"FAILED ({tail})"
    load = res.get("load_1min_before_after")
    summary.append(
        row(
            NAME,
            f"training_job, {rows:,} rows",
            f"{res['wall_seconds']:.0f} s wall",
            f"{ok}; CPU {res['cpu_seconds']:.0f} s; peak RSS {res['max_process_rss_mb']:.0f} MiB "
            f"(process), {res['peak_tree_rss_mb']:.0f} MiB (tree); load {load}; "
            f"{len(res['steps'])} steps done",
        )
    )
    for family, fam in res["families"].items():
        gap = fam.get("gap_to_single_fit")
        vs = "" if gap is None else f"; single fit {fam['single_fit_roc_auc']:.4f} (gap {gap:+.4f})"
        auc = fam.get("holdout_roc_auc", float("nan"))
        summary.append(
            row(
                NAME,
                f"{family}, {rows:,} rows",
                f"{fam.get('fit_seconds', 0):.0f} s, AUC {auc:.4f}",
                f"search {fam.get('search_seconds', 0):.0f} s, out of fold "
                f"{fam.get('oof_seconds', 0):.0f} s, refit {fam.get('refit_seconds', 0):.0f} s, "
                f"trees {fam.get('trees')}{vs}",
            )
        )


if __name__ == "__main__":
    arg = next((a for a in sys.argv if a.startswith("--rows=")), None)
    chosen = tuple(int(x) for x in arg.split("=", 1)[1].split(",")) if arg else None
    limit = next((a for a in sys.argv if a.startswith("--timeout=")), None)
    seconds = float(limit.split("=", 1)[1]) if limit else TIMEOUT
    for line in run(quick="--quick" in sys.argv, sizes=chosen, timeout=seconds)["summary"]:
        print(line)
