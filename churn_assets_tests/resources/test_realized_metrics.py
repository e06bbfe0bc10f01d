"""`record_realized`: the realized-performance series of a batch, pushed to the batch's group."""

from churn_assets.resources.metrics import MetricsResource
from churn_assets_tests.resources.test_metrics import (  # noqa: F401 - fixture
    fake_gateway,
    group_of,
    url_of,
    value,
)


def test_realized_metrics_per_batch_and_metric():
    push = MetricsResource(deployment="test").record_realized(
        "b1.csv", 0.4, {"roc_auc": 0.71, "brier": 0.2}, gap=0.14, decayed=True
    )
    text = push.render()
    assert value(text, "churn_realized_metric", batch="b1.csv", metric="roc_auc") == 0.71
    assert value(text, "churn_realized_metric", batch="b1.csv", metric="brier") == 0.2
    assert value(text, "churn_realized_outcome_share", batch="b1.csv") == 0.4
    assert value(text, "churn_realized_auc_gap", batch="b1.csv") == 0.14
    assert value(text, "churn_realized_decayed", batch="b1.csv") == 1
    assert value(text, "churn_realized_last_timestamp_seconds", batch="b1.csv") > 0


def test_no_gap_series_before_the_rule_can_compare():
    text = MetricsResource().record_realized("b2.csv", 0.01, {}, gap=None, decayed=False).render()
    assert b"churn_realized_auc_gap" not in text.replace(b"# HELP churn_realized_auc_gap", b"")
    assert value(text, "churn_realized_decayed", batch="b2.csv") == 0


def test_realized_metrics_go_to_the_group_of_the_batch(fake_gateway):  # noqa: F811
    metrics = MetricsResource(pushgateway_url=url_of(fake_gateway), deployment="production")
    assert metrics.record_realized("b3.csv", 1.0, {"roc_auc": 0.8}, 0.02, False).pushed
    [(method, path, body)] = fake_gateway.requests
    assert method == "POST" and group_of(path)["batch"] == "b3.csv"
    assert b'churn_realized_decayed{batch="b3.csv",deployment="production"} 0.0' in body
