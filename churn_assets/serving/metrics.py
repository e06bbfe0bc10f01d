"""Prometheus metrics of the model server, correct across several worker processes.

With `--workers N` every worker is its own process, so one in-memory registry per worker would
show 1/N of the traffic on each scrape. `churn-assets serve` therefore sets
`PROMETHEUS_MULTIPROC_DIR` (a fresh temporary folder) before the workers start: prometheus_client
writes each worker's values there and `/metrics` sums them (prometheus_client's multiprocess
mode). Counters and histograms are summed; `churn_server_model_version` has one series per live
worker (`pid` label), so a worker still on an old version shows; `churn_server_model_loaded` is
the minimum over live workers. A worker that stops cleanly removes its live gauges
(`mark_process_dead`). Without that variable (tests, one in-process app) the metrics live in a
registry of the app's own.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

FLAGS = ("out_of_range", "all_features_missing", "unseen_category")
REJECTIONS = ("queue_full", "timeout", "disconnect")


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class ServerMetrics:
    """Requests, latency, rows, flags, batches and the served version."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "churn_server_requests",
            "HTTP requests answered, by endpoint and status code.",
            ["endpoint", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "churn_server_request_duration_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.predictions = Counter(
            "churn_server_predictions",
            "Rows scored, by predicted outcome at the model's threshold.",
            ["outcome"],
            registry=r,
        )
        self.flags = Counter(
            "churn_server_flagged_rows",
            "Rows scored with a flag (outside the training ranges, every feature null, ...).",
            ["flag"],
            registry=r,
        )
        self.batch_rows = Histogram(
            "churn_server_batch_rows",
            "Rows per predict call (micro-batches of concurrent requests).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096),
            registry=r,
        )
        self.rejected = Counter(
            "churn_server_rejected",
            "Requests refused before scoring, by reason (queue_full, timeout, disconnect).",
            ["reason"],
            registry=r,
        )
        self.reloads = Counter(
            "churn_server_reloads", "Model (re)loads, by result.", ["result"], registry=r
        )
        self.model_loaded = Gauge(
            "churn_server_model_loaded",
            "1 when every live worker has a model loaded.",
            registry=r,
            multiprocess_mode="livemin",
        )
        # One series per live worker (label `pid`): a worker that missed a reload shows.
        self.model_version = Gauge(
            "churn_server_model_version",
            "The registry version being served, per worker process.",
            registry=r,
            multiprocess_mode="liveall",
        )
        self.threshold = Gauge(
            "churn_server_model_threshold",
            "Decision threshold of the served model.",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._children: dict[tuple[str, int], tuple] = {}
        self.churn_rows = self.predictions.labels(outcome="churn")
        self.no_churn_rows = self.predictions.labels(outcome="no_churn")
        for flag in FLAGS:
            self.flags.labels(flag=flag)
        for result in ("success", "failure"):
            self.reloads.labels(result=result)
        for reason in REJECTIONS:
            self.rejected.labels(reason=reason)

    def counted(self, endpoint: str, status: int, seconds: float) -> None:
        """One answered request: the counter by endpoint and status, the latency histogram."""
        key = (endpoint, status)
        children = self._children.get(key)
        if children is None:  # `labels()` takes a lock and a lookup: once per key, not request
            children = (
                self.requests.labels(endpoint=endpoint, status=str(status)),
                self.latency.labels(endpoint=endpoint),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def served(self, version: str, threshold: float) -> None:
        self.model_loaded.set(1)
        try:
            self.model_version.set(float(version))
        except ValueError:  # a non-numeric version is still served; the gauge cannot say it
            self.model_version.set(-1)
        self.threshold.set(threshold)

    def worker_exit(self) -> None:
        """Drop this worker's live gauges from the multiprocess files (on clean shutdown)."""
        if multiprocess():
            from prometheus_client import multiprocess as mp

            mp.mark_process_dead(os.getpid())

    def render(self) -> tuple[bytes, str]:
        """The exposition text: every worker's values in multiprocess mode, else this app's."""
        if multiprocess():
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
