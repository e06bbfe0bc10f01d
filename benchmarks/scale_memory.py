"""Where `training_job`'s memory goes at N synthetic rows: peak RSS per step.

`python -m benchmarks.scale_memory --rows=1000000 [--nice=5] [--step-processes]` runs
`churn-assets run --job training_job [--step-processes]` on N synthetic rows in a private home
(as `benchmarks.scale` does), samples the RSS of the run's process, of its process tree (loky
workers; with `--step-processes` the steps' own processes) and of the largest single process
once a second, and splits the samples by the steps' start and end in the run's event log. RSS
does not depend on the machine's load, so this may run beside other work (at a lower priority);
its seconds are not a timing. Each size and mode is merged into `results/scale_memory.json` (1M
and 5M, one process and step processes, side by side), each with the parameters, git sha and
machine load of its own run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import RESULTS_DIR, ROOT, git_sha, load_average, row, write_result
from benchmarks.first_run import clean_env

NAME = "scale_memory"
ONE_PROCESS, STEP_PROCESSES = "one-process", "step-processes"


def sample(pid: int) -> tuple[float, float, float, float]:
    """(time, RSS of `pid`, RSS of `pid` and its descendants, largest RSS of any one of them),
    in MiB. The sum counts pages that processes share (a fork's untouched pages) once per
    process, so it is an upper bound."""
    import psutil

    proc = psutil.Process(pid)
    own = proc.memory_info().rss
    total, largest = own, own
    for child in proc.children(recursive=True):
        try:
            rss = child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
        total += rss
        largest = max(largest, rss)
    return time.time(), own / 2**20, total / 2**20, largest / 2**20


def step_windows(home: Path) -> dict[str, tuple[float, float]]:
    """(start, end) of each step of the newest run under `home`, from Dagster's step stats."""
    import os

    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        runs = instance.get_runs(limit=1)
        stats = instance.get_run_step_stats(runs[0].run_id) if runs else []
    os.environ.pop("DAGSTER_HOME", None)
    return {s.step_key: (s.start_time, s.end_time) for s in stats if s.start_time and s.end_time}


def per_step(samples: list[tuple[float, float, float]], windows) -> dict[str, dict[str, float]]:
    """Peak RSS of the run's process and of its tree within each step (one second of slack)."""
    out = {}
    for step, (start, end) in sorted(windows.items(), key=lambda kv: kv[1][0]):
        inside = [s for s in samples if start - 1 <= s[0] <= end + 1]
        if inside:
            out[step] = {
                "seconds": round(end - start, 1),
                "peak_process_mib": round(max(s[1] for s in inside)),
                "peak_tree_mib": round(max(s[2] for s in inside)),
                "peak_largest_process_mib": round(max(s[3] for s in inside)),
                "process_mib_at_end": round(inside[-1][1]),
            }
    return out


def run(rows: int, nice: int, step_processes: bool = False) -> dict[str, Any]:
    """`step_processes`: `churn-assets run --step-processes` (each step in a child of its own);
    kept beside the one-process run of the same size."""
    load_at_start = load_average()
    sha = git_sha()  # the code the run starts with (the checkout may move during an hour-long run)
    with tempfile.TemporaryDirectory(prefix="churn-scale-memory-") as tmp:
        spec = yaml.safe_load((ROOT / "churn_assets/datasets/synthetic.yaml").read_text())
        spec["source"]["synthetic"]["n_rows"] = rows
        spec_path = Path(tmp) / f"synthetic_{rows}.yaml"
        spec_path.write_text(yaml.safe_dump(spec))
        home = Path(tmp) / "home"
        env = clean_env(home)
        env["PYTHONPATH"] = str(ROOT)
        cli = str(Path(sys.executable).parent / "churn-assets")
        cmd = ["nice", "-n", str(nice), cli, "run", "--job", "training_job"]
        cmd += ["--step-processes"] if step_processes else []
        proc = subprocess.Popen(
            [*cmd, "--spec", str(spec_path)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        samples = []
        while proc.poll() is None:
            try:
                samples.append(sample(proc.pid))
            except Exception:  # the process ended between poll and sample
                break
            time.sleep(1)
        tail = proc.stdout.read().splitlines()[-12:]
        steps = per_step(samples, step_windows(home))
    results = {
        "rows": rows,
        "returncode": proc.returncode,
        "git_sha": sha,
        "peak_process_mib": round(max(s[1] for s in samples)),
        "peak_tree_mib": round(max(s[2] for s in samples)),
        "peak_largest_process_mib": round(max(s[3] for s in samples)),
        "mode": STEP_PROCESSES if step_processes else ONE_PROCESS,
        "steps": steps,
        "output_tail": tail,
    }
    results["params"] = {"rows": rows, "nice": nice, "sample_seconds": 1}
    results["load_average_start"] = load_at_start
    sizes = merged(_previous(), rows, results, key=size_key(rows, step_processes))
    summary = [_summary_row(sizes[key]) for key in sorted(sizes, key=_order)]
    write_result(NAME, {"sizes": sorted(sizes, key=_order)}, sizes, summary, load_at_start)
    return {"results": results, "summary": summary}


def size_key(rows: int, step_processes: bool) -> str:
    """The results key: the row count, with ' step-processes' for a run of that mode."""
    return f"{rows} {STEP_PROCESSES}" if step_processes else str(rows)


def _order(key: str) -> tuple[int, str]:
    return int(key.split()[0]), key


def _summary_row(res: dict[str, Any]) -> dict[str, str]:
    if res.get("mode") == STEP_PROCESSES:
        top = max(res["steps"].items(), key=lambda kv: kv[1]["peak_largest_process_mib"])
        value = (
            f"{res['peak_largest_process_mib']} MiB (largest process: a step's), "
            f"{res['peak_tree_mib']} MiB (all processes summed)"
        )
        how = "each step in a process of its own (--step-processes)"
    else:
        top = max(res["steps"].items(), key=lambda kv: kv[1]["peak_process_mib"])
        value = (
            f"{res['peak_process_mib']} MiB (run process), {res['peak_tree_mib']} MiB "
            "(with loky workers)"
        )
        how = "one process"
    return row(
        NAME,
        f"training_job at {res['rows']:,} rows, {how}, peak RSS",
        value,
        f"highest in {top[0]}; git {res.get('git_sha')}; per step in results/scale_memory.json",
    )


def merged(
    previous: dict[str, Any], rows: int, results: dict[str, Any], key: str | None = None
) -> dict[str, Any]:
    """The sizes measured before (row count -> results), with `results` of `rows` rows put in
    (replacing an older run of the same size). `previous` is the stored document; one written
    before results were keyed by rows (a single size, results at the top) becomes one entry."""
    stored = previous.get("results", {})
    if "rows" in stored:  # the single-size layout: results of one run, its params beside them
        stored = {str(stored["rows"]): {**stored, "params": previous.get("params", {})}}
    return {**stored, key or str(rows): results}


def _previous() -> dict[str, Any]:
    path = RESULTS_DIR / f"{NAME}.json"
    return json.loads(path.read_text()) if path.exists() else {}


if __name__ == "__main__":
    args = dict(a.lstrip("-").split("=", 1) for a in sys.argv[1:] if "=" in a)
    isolated = "--step-processes" in sys.argv[1:]
    out = run(int(args.get("rows", 1_000_000)), int(args.get("nice", 5)), isolated)
    for line in out["summary"]:
        print(line)
    print(json.dumps(out["results"]["steps"], indent=1))
