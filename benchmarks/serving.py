"""Serving benchmark: our model server against `mlflow models serve` on the same champion.

`prepare` fits one XGBoost Pipeline (the scoring benchmark's fixed parameters) on validated
synthetic rows, logs it with the training code's `log_pipeline`, registers it in a temporary
MLflow store and makes it `champion` (threshold tag 0.5). Then:

- HTTP, side by side: `churn-assets serve --workers 2` and `mlflow models serve --workers 2
  --env-manager local` on the same version, each driven by wrk (Debian package; a Lua script
  POSTs a fixed body) at concurrency 32, 1-row then 100-row bodies; each point is 3 slices of
  10 s alternating the servers, so a change in the machine's load falls on both. Requests/s
  (mean of the slices), p50/p99 (the worst slice's p99) and errors (socket errors + non-2xx)
  are read from wrk's reports; for ours also the requests scored per predict call (from the
  `churn_server_batch_rows` histogram in /metrics: the micro-batcher's coalescing).
- Estimator threads: our server again with `CHURN_SERVER_THREADS=0` (the libraries' defaults)
  against the default 1 thread per worker, 1-row and 100-row.
- Soak: 60 s at concurrency 64 on 1-row bodies; RSS of the server's processes before and after.
- In process (a fresh worker process): one row through the serving path (JSON bytes -> parsed
  rows -> compiled preprocessing -> predict_proba) against the bare estimator's predict_proba on
  the already transformed row; the median of many calls each.

Run: `python -m benchmarks.serving [--quick]` or `python -m benchmarks.run --only serving`;
writes `benchmarks/results/serving.json`. Run it under `nice` on a shared machine and read the
load averages in the result: both servers share the machine's cores with wrk.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, load_average, row, run_worker, worker_main, write_result

NAME = "serving"
MODULE = "benchmarks.serving"
MODEL_NAME = "churn-classifier"
MODEL_PARAMS = {
    "model__n_estimators": 250,
    "model__max_depth": 5,
    "model__learning_rate": 0.1,
    "model__subsample": 0.8,
    "model__colsample_bytree": 0.8,
}
SLICES = 3  # each side-by-side point is 3 alternating slices of a third of its seconds
TARGETS = {"rows_1": 20.0, "rows_100": 5.0, "in_process": 2.0, "rss_growth": 0.10}
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb")
wrk.body = f:read("*all")
f:close()
"""


def prepare(folder: Path, n_rows: int = 20_000) -> tuple[str, list[dict]]:
    """A registry with the champion in `folder`; returns (tracking URI, 100 raw records)."""
    import mlflow

    from churn_assets.ml.features import build_preprocessor, feature_spec
    from churn_assets.ml.models import build_pipeline
    from churn_assets.ml.spec import load_spec
    from churn_assets.ml.synthetic import generate_synthetic
    from churn_assets.ml.validation import TARGET, typed_columns, validate
    from churn_assets.resources.mlflow_models import log_pipeline
    from churn_assets.resources.model_registry import ModelRegistry

    spec = load_spec("synthetic")
    valid = validate(generate_synthetic(n_rows, seed=42), spec).valid
    features = feature_spec(spec, typed_columns(valid, spec))
    X, y = valid[features.inputs], valid[TARGET].astype(int)
    pipeline = build_pipeline("xgboost", build_preprocessor(features), y, 0)
    pipeline.set_params(**MODEL_PARAMS).fit(X, y)
    uri = f"sqlite:///{folder}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("bench", artifact_location=str(folder / "artifacts"))
    with mlflow.start_run(experiment_id=experiment) as run:
        info = log_pipeline(pipeline, X)
    registry = ModelRegistry(mlflow.MlflowClient(uri, uri), MODEL_NAME)
    version = registry.register(info.model_uri, run.info.run_id, {"threshold": 0.5})
    registry.client.set_registered_model_alias(MODEL_NAME, "champion", version)
    sample = generate_synthetic(100, seed=7)[features.inputs]
    sample["total_charges"] = sample["total_charges"].str.strip().replace("", None)
    records = json.loads(sample.to_json(orient="records"))
    for r in records:
        r["total_charges"] = None if r["total_charges"] is None else float(r["total_charges"])
    return uri, records


def _wait(url: str, process: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


def _start(cmd: list[str], env: dict, ready: str, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        cmd,
        env=env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait(ready, process)
    except RuntimeError:
        _stop(process)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"{' '.join(cmd[:3])} did not start:\n{tail}") from None
    return process


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(10)


def _rss_mb(process: subprocess.Popen) -> float:
    import psutil

    parent = psutil.Process(process.pid)
    procs = [parent, *parent.children(recursive=True)]
    return round(sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20, 1)


def _seconds(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def wrk(url: str, body: bytes, folder: Path, connections: int, seconds: int) -> dict[str, Any]:
    """Drive `url` with wrk; requests/s, latency percentiles (ms) and errors."""
    body_file = folder / f"body-{len(body)}.json"
    body_file.write_bytes(body)
    script = folder / f"post-{len(body)}.lua"
    script.write_text(WRK_SCRIPT.replace("{body}", str(body_file)))
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    out = subprocess.run(
        [*cmd, "-s", str(script), url], capture_output=True, text=True, timeout=seconds + 60
    ).stdout
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    socket = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(total.group(1)) if total else 0,
        "p50_ms": round(_seconds(latency["50"]) * 1e3, 2),
        "p99_ms": round(_seconds(latency["99"]) * 1e3, 2),
        "socket_errors": sum(map(int, socket.groups())) if socket else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "load_1min": round(os.getloadavg()[0], 2),
    }


def in_process(params: dict[str, Any]) -> dict[str, Any]:
    """Worker: one row through the serving path against the bare estimator.

    Bare is the estimator's own `predict_proba` on the already transformed row (scikit-learn's
    API, what the target compares to) and, reported too, the direct library call the compiled
    path ends in (`Booster.inplace_predict` for XGBoost). The calls are interleaved in a
    shuffled order, so load from other processes falls on each alike; medians of 2,000 each.
    """
    import random
    import statistics

    from churn_assets.serving.config import ServerConfig
    from churn_assets.serving.model import RegistryLoader
    from churn_assets.serving.schema import load_json, parse_rows

    config = ServerConfig(tracking_uri=params["uri"], threads=params["threads"])
    model = RegistryLoader(config)()
    body = json.dumps(params["record"]).encode()
    estimator = model.pipeline.steps[-1][1]
    matrix = model.scorer.transform(parse_rows(load_json(body, 400), model.schema))
    calls = {
        "path": lambda: model.predict(parse_rows(load_json(body, config.max_depth), model.schema)),
        "bare": lambda: estimator.predict_proba(matrix)[:, 1],
        "bare_direct": lambda: model.scorer.proba(matrix),
    }
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for _ in range(50):
        for fn in calls.values():
            fn()
    for _ in range(2000):
        random.shuffle(names)
        for name in names:
            started = time.perf_counter()
            calls[name]()
            samples[name].append(time.perf_counter() - started)
    timings = {f"{k}_us": round(statistics.median(v) * 1e6, 1) for k, v in samples.items()}
    pipeline = []
    frame = parse_rows(json.loads(body), model.schema).frame(model.schema)
    for _ in range(200):
        started = time.perf_counter()
        model.pipeline.predict_proba(frame)
        pipeline.append(time.perf_counter() - started)
    timings["pipeline_us"] = round(statistics.median(pipeline) * 1e6, 1)
    assert abs(calls["path"]()[0] - calls["bare"]()[0]) < 1e-9
    timings["path_over_bare"] = round(timings["path_us"] / timings["bare_us"], 2)
    timings["path_over_bare_direct"] = round(timings["path_us"] / timings["bare_direct_us"], 2)
    timings["pipeline_over_bare"] = round(timings["pipeline_us"] / timings["bare_us"], 2)
    timings["scoring_path"] = model.scoring_path
    timings["bare_call"] = f"{type(estimator).__name__}.predict_proba"
    timings["direct_call"] = model.scorer.estimator_call
    return timings


def combine(parts: list[dict[str, Any]], rows_per_request: int) -> dict[str, Any]:
    """Equal-length wrk slices as one measurement: mean requests/s, summed counts, the worst
    slice's p99 (percentiles cannot be merged exactly), each slice's requests/s and load."""
    summed = ("requests", "socket_errors", "non_2xx", "predict_calls")
    out: dict[str, Any] = {
        "requests_per_s": round(sum(p["requests_per_s"] for p in parts) / len(parts), 2)
    }
    out |= {k: sum(p[k] for p in parts) for k in summed if k in parts[0]}
    out["p50_ms"] = sorted(p["p50_ms"] for p in parts)[len(parts) // 2]
    out["p99_ms"] = max(p["p99_ms"] for p in parts)
    if "predict_calls" in out:
        calls = out["predict_calls"]
        rows = sum(p["rows_per_predict_call"] * p["predict_calls"] for p in parts)
        out["rows_per_predict_call"] = round(rows / calls, 2) if calls else 0
        out["requests_per_predict_call"] = round(rows / calls / rows_per_request, 2) if calls else 0
    out["slices_requests_per_s"] = [p["requests_per_s"] for p in parts]
    out["load_1min"] = [p["load_1min"] for p in parts]
    return out


def batch_rows(metrics_url: str) -> tuple[float, float]:
    """(predict calls, rows scored) so far, from the server's `churn_server_batch_rows`."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    count = re.search(r"^churn_server_batch_rows_count (\S+)$", text, re.M)
    total = re.search(r"^churn_server_batch_rows_sum (\S+)$", text, re.M)
    return float(count.group(1)) if count else 0.0, float(total.group(1)) if total else 0.0


def batched(measure, metrics_url: str, rows_per_request: int) -> dict[str, Any]:
    """`measure()` (a wrk run on our server) plus how the micro-batcher coalesced it."""
    calls_before, rows_before = batch_rows(metrics_url)
    result = measure()
    calls_after, rows_after = batch_rows(metrics_url)
    calls = calls_after - calls_before
    result["predict_calls"] = int(calls)
    result["rows_per_predict_call"] = round((rows_after - rows_before) / calls, 2) if calls else 0
    result["requests_per_predict_call"] = (
        round((rows_after - rows_before) / calls / rows_per_request, 2) if calls else 0
    )
    return result


def _servers(uri: str, folder: Path, threads: int) -> dict[str, tuple[list[str], dict, str, str]]:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"  # mlflow serve runs `uvicorn`
    env["PYTHONPATH"] = str(ROOT)
    ours_env = {**env, "CHURN_SERVER_THREADS": str(threads), "CHURN_LOG_LEVEL": "warning"}
    return {
        "ours": (
            [str(bin_dir / "churn-assets"), "serve", "--port", "18731", "--workers", "2"],
            ours_env,
            "http://127.0.0.1:18731/ready",
            "http://127.0.0.1:18731/predict",
        ),
        "mlflow": (
            [
                str(bin_dir / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{MODEL_NAME}@champion",
                "-p",
                "18732",
                "-h",
                "127.0.0.1",
                "--workers",
                "2",
                "--env-manager",
                "local",
            ],
            env,
            "http://127.0.0.1:18732/ping",
            "http://127.0.0.1:18732/invocations",
        ),
    }


def _bodies(records: list[dict]) -> dict[str, dict[str, bytes]]:
    ours = {n: json.dumps(records[:n]).encode() for n in (1, 100)}
    mlflow = {n: json.dumps({"dataframe_records": records[:n]}).encode() for n in (1, 100)}
    return {"ours": ours, "mlflow": mlflow}


def run(quick: bool = False) -> dict[str, Any]:
    """Run everything, write results/serving.json, return the results."""
    load_at_start = load_average()
    seconds, soak_seconds = (5, 10) if quick else (30, 60)
    folder = Path(tempfile.mkdtemp(prefix="churn-serving-bench-"))
    results: dict[str, Any] = {}
    try:
        uri, records = prepare(folder)
        bodies = _bodies(records)
        procs = {}
        try:
            for name, (cmd, env, ready, _) in _servers(uri, folder, 1).items():
                procs[name] = _start(cmd, env, ready, folder / f"{name}.log")
            for name, (_, _, _, url) in _servers(uri, folder, 1).items():
                _check(url, bodies[name][1])
            metrics_url = _servers(uri, folder, 1)["ours"][2].replace("/ready", "/metrics")
            for n in (1, 100):
                slices: dict[str, list] = {"ours": [], "mlflow": []}
                for _ in range(SLICES):  # alternating in short slices: load drift hits both
                    for name in ("ours", "mlflow"):
                        url = _servers(uri, folder, 1)[name][3]

                        def measure(url=url, body=bodies[name][n]):
                            return wrk(url, body, folder, 32, max(1, seconds // SLICES))

                        slices[name].append(
                            batched(measure, metrics_url, n) if name == "ours" else measure()
                        )
                for name, parts in slices.items():
                    results[f"{name}_rows_{n}"] = combine(parts, n)
            _stop(procs.pop("mlflow"))
            url = _servers(uri, folder, 1)["ours"][3]
            rss_before = _rss_mb(procs["ours"])
            soak = wrk(url, bodies["ours"][1], folder, 64, soak_seconds)
            rss_after = _rss_mb(procs["ours"])
            soak |= {"rss_before_mb": rss_before, "rss_after_mb": rss_after}
            soak["rss_growth"] = round(rss_after / rss_before - 1, 4)
            results["soak_rows_1_c64"] = soak
        finally:
            for process in procs.values():
                _stop(process)
        cmd, env, ready, url = _servers(uri, folder, 0)["ours"]
        try:
            process = _start(cmd, env, ready, folder / "ours-threads.log")
        except RuntimeError as exc:  # recorded; the measurements above are kept
            results.update(
                {f"ours_default_threads_rows_{n}": {"error": str(exc)} for n in (1, 100)}
            )
        else:
            try:
                for n in (1, 100):
                    results[f"ours_default_threads_rows_{n}"] = wrk(
                        url, bodies["ours"][n], folder, 32, seconds
                    )
            finally:
                _stop(process)
        for threads in (1, 0):
            params = {"uri": uri, "record": records[0], "threads": threads}
            results[f"in_process_threads_{threads}"] = run_worker(MODULE, "in_process", params, 600)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    summary = _summary(results)
    params = {
        "mode": "quick" if quick else "full",
        "seconds": seconds,
        "soak_seconds": soak_seconds,
        "connections": 32,
        "workers": 2,
        "model": "xgboost 250 trees depth 5",
    }
    write_result(NAME, params, results, summary, load_at_start)
    return results


def _check(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, f"{url} answered {response.status}"


def _errors(measured: dict[str, Any]) -> int:
    return measured["socket_errors"] + measured["non_2xx"]


def _threads(threads: int) -> str:
    return "1 thread" if threads else "default threads"


def _summary(results: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for n in (1, 100):
        ours, theirs = results[f"ours_rows_{n}"], results[f"mlflow_rows_{n}"]
        ratio = ours["requests_per_s"] / theirs["requests_per_s"]
        target = TARGETS[f"rows_{n}"]
        rows.append(
            row(
                NAME,
                f"{n}-row requests/s, ours vs mlflow serve (c32, 2 workers)",
                f"{ours['requests_per_s']:.0f} vs {theirs['requests_per_s']:.0f} = {ratio:.1f}x",
                f"target >= {target:g}x ({'met' if ratio >= target else 'missed'}); p99 "
                f"{ours['p99_ms']} vs {theirs['p99_ms']} ms; errors "
                f"{_errors(ours)} vs {_errors(theirs)}; ours scored "
                f"{ours.get('requests_per_predict_call', '?')} requests per predict call",
            )
        )
        default = results[f"ours_default_threads_rows_{n}"]
        if "error" in default:
            rows.append(row(NAME, f"{n}-row, library-default threads", "error", default["error"]))
            continue
        rows.append(
            row(
                NAME,
                f"{n}-row requests/s, 1 estimator thread vs library default",
                f"{ours['requests_per_s']:.0f} vs {default['requests_per_s']:.0f}",
                f"p99 {ours['p99_ms']} vs {default['p99_ms']} ms",
            )
        )
    for threads in (1, 0):
        inp = results[f"in_process_threads_{threads}"]
        if "error" in inp:
            rows.append(row(NAME, "in-process 1 row", "error", inp["error"][-200:]))
            continue
        met = inp["path_over_bare"] <= TARGETS["in_process"]
        rows.append(
            row(
                NAME,
                f"in-process 1 row, serving path / bare {inp['bare_call']} ({_threads(threads)})",
                f"{inp['path_us']} / {inp['bare_us']} us = {inp['path_over_bare']}x",
                f"target <= 2x ({'met' if met else 'missed'}); over the bare "
                f"{inp['direct_call']} ({inp['bare_direct_us']} us): "
                f"{inp['path_over_bare_direct']}x; the Pipeline: {inp['pipeline_over_bare']}x",
            )
        )
    soak = results["soak_rows_1_c64"]
    rows.append(
        row(
            NAME,
            "soak: 1-row at c64, errors and RSS growth",
            f"{soak['socket_errors'] + soak['non_2xx']} errors, RSS {soak['rss_before_mb']} -> "
            f"{soak['rss_after_mb']} MB ({soak['rss_growth']:+.1%})",
            f"{soak['requests']} requests at {soak['requests_per_s']:.0f}/s; target < 10% growth",
        )
    )
    return rows


def main(quick: bool = False) -> None:
    run(quick=quick)


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "in_process":
    worker_main({"in_process": in_process})
elif __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))
