"""MetricsResource: the exposition it builds, when it pushes, and how a failed push is reported.

Pushes go to a small in-process HTTP server standing in for the Pushgateway, so the tests see the
exact requests; the real Pushgateway and Prometheus are in integration/test_prometheus.py.
"""

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator

import pytest
from dagster import asset, materialize
from prometheus_client.parser import text_string_to_metric_families

from churn_assets.resources.metrics import METRIC_NAMES, METRICS, MetricsPushError, MetricsResource
from churn_assets_tests.integration.services import free_port


def samples(exposition: bytes) -> dict[tuple[str, frozenset], float]:
    """(metric name, labels) -> value of every sample in a text exposition."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(exposition.decode())
        for s in family.samples
    }


def value(exposition: bytes, name: str, **labels: str) -> float:
    """The value of the one sample of `name` whose labels include `labels`."""
    found = [
        v
        for (n, lab), v in samples(exposition).items()
        if n == name and set(labels.items()) <= set(lab)
    ]
    assert len(found) == 1, f"expected one {name}{labels}, found {found}"
    return found[0]


class _FakePushgateway(http.server.BaseHTTPRequestHandler):
    """Records every request; answers with the status the test set on the server."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        self.server.requests.append((self.command, self.path, body))  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()

    do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the test output is not the place for request logs."""


@contextlib.contextmanager
def running_fake_gateway() -> Iterator[http.server.HTTPServer]:
    """A Pushgateway stand-in on a free loopback port that records each request."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _FakePushgateway)
    server.requests = []  # type: ignore[attr-defined]
    server.status = 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def fake_gateway() -> Iterator[http.server.HTTPServer]:
    with running_fake_gateway() as server:
        yield server


def url_of(server: http.server.HTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def group_of(path: str) -> dict[str, str]:
    """The Pushgateway group of a push path `/metrics/job/<job>/<label>/<value>/...`."""
    parts = path.removeprefix("/metrics/").split("/")
    return dict(zip(parts[::2], parts[1::2], strict=True))


def test_run_metrics_carry_job_status_and_duration():
    metrics = MetricsResource(deployment="test")
    before = time.time()

    push = metrics.record_run("training_job", "FAILURE", 12.5)

    text = push.render()
    assert b"# HELP churn_run_duration_seconds" in text
    labels = {"dagster_job": "training_job", "status": "failure", "deployment": "test"}
    assert value(text, "churn_run_duration_seconds", **labels) == 12.5
    assert before <= value(text, "churn_run_last_timestamp_seconds", **labels) <= time.time()
    assert push.grouping_key == labels
    assert push.pushed is False


def test_data_quality_metrics():
    text = (
        MetricsResource()
        .record_data_quality(
            "raw_dataset", rows_in=1000, rows_kept=970, rows_quarantined=30, quality_score=91.5
        )
        .render()
    )
    assert value(text, "churn_data_rows_processed", dataset="raw_dataset") == 1000
    assert value(text, "churn_data_rows_kept", dataset="raw_dataset") == 970
    assert value(text, "churn_data_rows_quarantined", dataset="raw_dataset") == 30
    assert value(text, "churn_data_quality_score", dataset="raw_dataset") == 91.5
    assert value(text, "churn_data_quality_last_timestamp_seconds", dataset="raw_dataset") > 0


def test_champion_metrics_version_and_info():
    push = MetricsResource(deployment="production").record_champion(
        "churn_model", "7", {"roc_auc": 0.84, "f1": 0.61, "brier": None}
    )
    text = push.render()
    assert value(text, "churn_champion_version", model_name="churn_model") == 7
    assert value(text, "churn_champion_info", model_name="churn_model", version="7") == 1
    assert value(text, "churn_champion_metric", model_name="churn_model", metric="roc_auc") == 0.84
    assert value(text, "churn_champion_metric", metric="f1") == 0.61
    assert not [k for k in samples(text) if ("metric", "brier") in k[1]], "None is left out"
    # One group per deployment, so the next champion replaces this one's series.
    assert push.grouping_key == {"deployment": "production"}


def test_champion_rejects_bad_versions_and_metrics():
    metrics = MetricsResource()
    with pytest.raises(ValueError, match="version must be an integer"):
        metrics.record_champion("churn_model", "latest", {"roc_auc": 0.8})
    with pytest.raises(ValueError, match="champion metric 'roc_auc' must be a number"):
        metrics.record_champion("churn_model", 1, {"roc_auc": "high"})


def test_drift_metrics_per_batch_and_feature():
    push = MetricsResource().record_drift(
        "2024-06-01",
        drift_share=0.5,
        dataset_drift=True,
        feature_scores={"tenure": 0.31, "monthly_charges": 0.02, "contract": None},
        drifted_features=["tenure"],
    )
    text = push.render()
    assert value(text, "churn_drift_share", batch="2024-06-01") == 0.5
    assert value(text, "churn_dataset_drift", batch="2024-06-01") == 1
    assert value(text, "churn_feature_drift_score", feature="tenure") == 0.31
    assert value(text, "churn_feature_drift_score", feature="monthly_charges") == 0.02
    assert value(text, "churn_feature_drifted", feature="tenure") == 1
    assert value(text, "churn_feature_drifted", feature="monthly_charges") == 0
    assert not [k for k in samples(text) if ("feature", "contract") in k[1]]
    assert push.grouping_key == {"deployment": "local", "batch": "2024-06-01"}


def test_prediction_metrics():
    text = MetricsResource().record_predictions("2024-06-01", rows=5000, mean_score=0.27).render()
    assert value(text, "churn_prediction_rows", batch="2024-06-01") == 5000
    assert value(text, "churn_prediction_mean_score", batch="2024-06-01") == 0.27
    assert value(text, "churn_prediction_last_success_timestamp_seconds") > 0


def test_extra_grouping_labels_reach_every_series():
    metrics = MetricsResource(deployment="production", grouping_labels={"cluster": "eu-1"})
    push = metrics.record_predictions("b1", rows=10, mean_score=0.5)
    assert push.grouping_key == {"cluster": "eu-1", "deployment": "production", "batch": "b1"}
    for _, labels in samples(push.render()):
        assert ("cluster", "eu-1") in labels and ("deployment", "production") in labels


def test_every_metric_is_declared_with_help():
    metrics = MetricsResource()
    pushes = [
        metrics.record_run("job", "success", 1.0),
        metrics.record_data_quality("d", 1, 1, 0, 100.0),
        metrics.record_champion("m", 1, {"roc_auc": 0.9}),
        metrics.record_drift("b", 0.0, False, {"x": 0.5}, drifted_features=[]),
        metrics.record_predictions("b", 1, 0.5),
        metrics.record_realized("b", 0.5, {"roc_auc": 0.8}, gap=0.01, decayed=False),
    ]
    emitted = {}
    for push in pushes:
        for family in text_string_to_metric_families(push.render().decode()):
            emitted[family.name] = family.documentation
    assert set(emitted) == METRIC_NAMES
    assert all(name.startswith("churn_") for name in emitted)
    assert emitted == METRICS


def test_out_of_range_values_are_refused():
    metrics = MetricsResource()
    with pytest.raises(ValueError, match="quality_score must be in"):
        metrics.record_data_quality("d", 10, 10, 0, quality_score=101)
    with pytest.raises(ValueError, match="drift_share must be in"):
        metrics.record_drift("b", 1.5, True, {})
    with pytest.raises(ValueError, match="duration_seconds must be >= 0"):
        metrics.record_run("job", "success", -1)


def test_no_push_without_a_url(fake_gateway):
    push = MetricsResource(pushgateway_url=None).record_predictions("b1", 10, 0.4)
    assert push.pushed is False
    assert b"churn_prediction_rows" in push.render()
    assert fake_gateway.requests == []


def test_push_posts_to_the_group_of_the_batch(fake_gateway):
    metrics = MetricsResource(pushgateway_url=url_of(fake_gateway), deployment="production")

    push = metrics.record_drift("2024-06-01", 0.1, False, {"tenure": 0.05})

    assert push.pushed is True
    [(method, path, body)] = fake_gateway.requests
    # POST replaces only the pushed metric names, so prediction metrics of the batch survive.
    assert method == "POST"
    assert group_of(path) == {
        "job": "churn_assets",
        "deployment": "production",
        "batch": "2024-06-01",
    }
    assert b'churn_drift_share{batch="2024-06-01",deployment="production"} 0.1' in body


def test_batch_names_with_slashes_stay_one_path_segment(fake_gateway):
    metrics = MetricsResource(pushgateway_url=url_of(fake_gateway))
    metrics.record_predictions("2024/06/01.parquet", 10, 0.4)
    [(_, path, _)] = fake_gateway.requests
    # prometheus_client base64-encodes such values (the Pushgateway's `label@base64` form).
    assert "/batch@base64/" in path


def test_push_to_a_closed_port_names_the_url():
    url = f"http://127.0.0.1:{free_port()}"
    metrics = MetricsResource(pushgateway_url=url, timeout_seconds=2)
    with pytest.raises(MetricsPushError, match=url.replace(".", r"\.")) as raised:
        metrics.record_run("training_job", "success", 3.0)
    assert "CHURN_PUSHGATEWAY_URL" in str(raised.value)


def test_a_refused_push_raises(fake_gateway):
    fake_gateway.status = 400
    metrics = MetricsResource(pushgateway_url=url_of(fake_gateway))
    with pytest.raises(MetricsPushError, match="400"):
        metrics.record_champion("churn_model", 2, {"roc_auc": 0.8})


def test_usable_as_a_dagster_resource(fake_gateway):
    @asset
    def scored(metrics: MetricsResource) -> None:
        metrics.record_predictions("b1", rows=3, mean_score=0.2)

    result = materialize(
        [scored],
        resources={
            "metrics": MetricsResource(
                pushgateway_url=url_of(fake_gateway), grouping_labels={"cluster": "eu-1"}
            )
        },
    )
    assert result.success
    [(_, path, _)] = fake_gateway.requests
    assert group_of(path) == {
        "job": "churn_assets",
        "cluster": "eu-1",
        "deployment": "local",
        "batch": "b1",
    }
