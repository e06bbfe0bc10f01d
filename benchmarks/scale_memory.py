"""Where `training_job`'s memory goes at N synthetic rows: peak RSS per step.

`python -m benchmarks.scale_memory --rows=1000000 [--nice=5]` runs `churn-assets run --job
training_job` on N synthetic rows in a private home (as `benchmarks.scale` does), samples the RSS of
the run's process and of its process tree (loky workers) once a second, and splits the samples by
the steps' start and end in the run's event log. RSS does not depend on the machine's load, so this
may run beside other work (at a lower priority); its seconds are not a timing. Writes
`results/scale_memory.json`.
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

from benchmarks.common import ROOT, git_sha, load_average, row, write_result
from benchmarks.first_run import clean_env

NAME = "scale_memory"


def sample(pid: int) -> tuple[float, float, float]:
    """(time, RSS of `pid`, RSS of `pid` and its descendants), in MiB."""
    import psutil

    proc = psutil.Process(pid)
    own = proc.memory_info().rss
    total = own
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return time.time(), own / 2**20, total / 2**20


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
                "process_mib_at_end": round(inside[-1][1]),
            }
    return out


def run(rows: int, nice: int) -> dict[str, Any]:
    load_at_start = load_average()
    with tempfile.TemporaryDirectory(prefix="churn-scale-memory-") as tmp:
        spec = yaml.safe_load((ROOT / "churn_assets/datasets/synthetic.yaml").read_text())
        spec["source"]["synthetic"]["n_rows"] = rows
        spec_path = Path(tmp) / f"synthetic_{rows}.yaml"
        spec_path.write_text(yaml.safe_dump(spec))
        home = Path(tmp) / "home"
        env = clean_env(home)
        env["PYTHONPATH"] = str(ROOT)
        cli = str(Path(sys.executable).parent / "churn-assets")
        cmd = ["nice", "-n", str(nice), cli, "run", "--job", "training_job", "--spec"]
        proc = subprocess.Popen(
            [*cmd, str(spec_path)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
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
        "git_sha": git_sha(),
        "peak_process_mib": round(max(s[1] for s in samples)),
        "peak_tree_mib": round(max(s[2] for s in samples)),
        "steps": steps,
        "output_tail": tail,
    }
    top = max(steps.items(), key=lambda kv: kv[1]["peak_process_mib"])
    summary = [
        row(
            NAME,
            f"training_job at {rows:,} rows, peak RSS",
            f"{results['peak_process_mib']} MiB (run process), {results['peak_tree_mib']} MiB "
            "(with loky workers)",
            f"highest in {top[0]}; per step in results/scale_memory.json",
        )
    ]
    params = {"rows": rows, "nice": nice, "sample_seconds": 1}
    write_result(NAME, params, results, summary, load_at_start)
    return {"results": results, "summary": summary}


if __name__ == "__main__":
    args = dict(a.lstrip("-").split("=", 1) for a in sys.argv[1:] if "=" in a)
    out = run(int(args.get("rows", 1_000_000)), int(args.get("nice", 5)))
    for line in out["summary"]:
        print(line)
    print(json.dumps(out["results"]["steps"], indent=1))
