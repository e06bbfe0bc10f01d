"""MetricsResource against a real Pushgateway scraped by a real Prometheus.

Both are the Debian binaries (`apt-get install prometheus prometheus-pushgateway`), started on
loopback ports for this module: metrics are pushed, Prometheus scrapes the gateway every second
with `honor_labels: true` like deploy/prometheus/prometheus.yml, and the values are read back
through Prometheus's HTTP API. The real alert rules are loaded too, so a pushed drift puts
ChurnDatasetDriftDetected in the pending state.
"""

import json
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest
import yaml

from churn_assets.resources.metrics import MetricsResource
from churn_assets_tests.integration.services import (
    free_port,
    require_service,
    stop_process,
    wait_for_http,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
INSTALL_HINT = "install with apt-get install prometheus prometheus-pushgateway"
START_TIMEOUT = 30.0


def _binary(name: str) -> str:
    path = shutil.which(name)
    require_service(path is not None, f"{name} not found on PATH; {INSTALL_HINT}")
    return path  # type: ignore[return-value]


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-2000:].strip() or "no output"


@contextmanager
def _service(name: str, args: list[str], ready_url: str, workdir: Path) -> Iterator[None]:
    """Run `args` until the context ends, once `ready_url` answers; stopped by its PID."""
    # Output goes to a file: a pipe nobody reads could fill up and block the server.
    with open(workdir / f"{name}.log", "w+b") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            if not wait_for_http(ready_url, START_TIMEOUT, process):
                stop_process(process)
                require_service(
                    False,
                    f"{name} did not become ready at {ready_url} within {START_TIMEOUT:.0f}s "
                    f"(exit code {process.returncode}): {_tail(log)}",
                )
            yield
        finally:
            stop_process(process)


@pytest.fixture(scope="module")
def monitoring_stack() -> Iterator[tuple[str, str]]:
    """A Pushgateway and a Prometheus scraping it every second; yields both base URLs."""
    pushgateway_bin = _binary("prometheus-pushgateway")
    prometheus_bin = _binary("prometheus")
    gateway_port, prometheus_port = free_port(), free_port()
    gateway = f"http://127.0.0.1:{gateway_port}"
    prometheus = f"http://127.0.0.1:{prometheus_port}"
    with tempfile.TemporaryDirectory(prefix="churn-prometheus-") as tmp:
        workdir = Path(tmp)
        shutil.copy(ALERTS, workdir / "alerts.yml")
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["alerts.yml"],
            "scrape_configs": [
                {
                    "job_name": "pushgateway",
                    "honor_labels": True,
                    "static_configs": [{"targets": [f"127.0.0.1:{gateway_port}"]}],
                }
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        gateway_args = [
            pushgateway_bin,
            f"--web.listen-address=127.0.0.1:{gateway_port}",
            "--persistence.file=",  # empty: keep metrics in memory only
        ]
        prometheus_args = [
            prometheus_bin,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ]
        with (
            _service("pushgateway", gateway_args, f"{gateway}/-/ready", workdir),
            _service("prometheus", prometheus_args, f"{prometheus}/-/ready", workdir),
        ):
            yield gateway, prometheus


def _api(prometheus: str, path: str, **params: str) -> dict:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{prometheus}/api/v1/{path}{query}", timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def _eventually(fetch: Callable[[], list], timeout: float = 30.0) -> list:
    """Poll `fetch` until it returns a non-empty list (a scrape or a rule evaluation happened)."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def _query(prometheus: str, promql: str) -> list[dict]:
    return _eventually(lambda: _api(prometheus, "query", query=promql)["result"])


def test_pushed_metrics_are_scraped_with_their_labels(monitoring_stack):
    gateway, prometheus = monitoring_stack
    metrics = MetricsResource(pushgateway_url=gateway, deployment="integration")

    assert metrics.record_predictions("2024-06-01", rows=1234, mean_score=0.27).pushed
    assert metrics.record_drift(
        "2024-06-01", drift_share=0.6, dataset_drift=True, feature_scores={"tenure": 0.42}
    ).pushed
    metrics.record_drift("2024-06-02", drift_share=0.0, dataset_drift=False, feature_scores={})
    metrics.record_run("scoring_job", "success", duration_seconds=8.5)

    [rows] = _query(prometheus, 'churn_prediction_rows{batch="2024-06-01"}')
    assert float(rows["value"][1]) == 1234
    # honor_labels keeps the pushed job and grouping labels instead of the scrape job's.
    assert rows["metric"]["job"] == "churn_assets"
    assert rows["metric"]["deployment"] == "integration"

    # Drift and predictions of one batch share a Pushgateway group; POST kept both.
    [score] = _query(prometheus, 'churn_feature_drift_score{batch="2024-06-01",feature="tenure"}')
    assert float(score["value"][1]) == pytest.approx(0.42)
    shares = _query(prometheus, "churn_drift_share")
    assert {s["metric"]["batch"]: float(s["value"][1]) for s in shares} == {
        "2024-06-01": 0.6,
        "2024-06-02": 0.0,
    }

    [duration] = _query(prometheus, 'churn_run_duration_seconds{dagster_job="scoring_job"}')
    assert duration["metric"]["status"] == "success"
    assert float(duration["value"][1]) == 8.5


def test_drift_alert_goes_pending_for_a_drifted_batch(monitoring_stack):
    gateway, prometheus = monitoring_stack
    metrics = MetricsResource(pushgateway_url=gateway, deployment="integration")
    metrics.record_drift("2024-07-01", drift_share=0.75, dataset_drift=True, feature_scores={})

    def drift_alerts() -> list[dict]:
        alerts = _api(prometheus, "alerts")["alerts"]
        return [
            a
            for a in alerts
            if a["labels"]["alertname"] == "ChurnDatasetDriftDetected"
            and a["labels"].get("batch") == "2024-07-01"
        ]

    [alert] = _eventually(drift_alerts)
    # `for: 1m` keeps it pending during the test; the rule, labels and value are the real ones.
    assert alert["state"] in ("pending", "firing")
    assert alert["labels"]["severity"] == "warning"
    assert float(alert["value"]) == 0.75


def test_a_rerun_of_a_batch_replaces_its_feature_series(monitoring_stack):
    gateway, prometheus = monitoring_stack
    metrics = MetricsResource(pushgateway_url=gateway, deployment="integration")
    metrics.record_drift("2024-08-01", 0.5, True, {"tenure": 0.3, "contract": 0.2})
    assert len(_query(prometheus, 'churn_feature_drift_score{batch="2024-08-01"}')) == 2

    metrics.record_drift("2024-08-01", 0.0, False, {"tenure": 0.01})

    def after_rerun() -> list:
        result = _api(prometheus, "query", query='churn_feature_drift_score{batch="2024-08-01"}')
        series = {r["metric"]["feature"]: float(r["value"][1]) for r in result["result"]}
        return [series] if series == {"tenure": 0.01} else []

    assert _eventually(after_rerun) == [{"tenure": 0.01}]
