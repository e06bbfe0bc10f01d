"""The HTTP contract over real uvicorn on loopback: health, ready, model, predict, reload,
metrics, OpenAPI; the model is a small logistic-regression Pipeline built as training builds it."""

import pytest

from churn_assets.serving.config import ServerConfig
from churn_assets.serving.model import prepare
from churn_assets_tests.serving.models import fitted, validated
from churn_assets_tests.serving.running import call, running

CONFIG = ServerConfig(tracking_uri="unused", poll_seconds=0)


class Loader:
    """Loads the version the test sets in `next` (None: the registry is unreachable)."""

    def __init__(self, version: str | None = "3", threshold: float = 0.4):
        self.next, self.threshold, self.calls = version, threshold, 0

    def __call__(self):
        self.calls += 1
        if self.next is None:
            raise RuntimeError("registry unreachable")
        pipeline = fitted("logistic_regression")
        metrics = {"roc_auc": 0.81}
        return prepare(
            pipeline, self.next, CONFIG, threshold=self.threshold, run_id="r1", metrics=metrics
        )


def record(i: int = 0) -> dict:
    valid, inputs = validated(3_000, 7)
    row = valid[inputs].iloc[i].to_dict()
    return {k: (None if v != v else v) for k, v in row.items()}


@pytest.fixture(scope="module")
def server():
    with running(CONFIG, Loader()) as (url, state):
        for _ in range(100):
            if state.current is not None:
                break
            __import__("time").sleep(0.05)
        yield url


def test_health_ready_and_model(server):
    assert call(f"{server}/health")[:2] == (200, {"status": "ok"})
    status, body, _ = call(f"{server}/ready")
    assert (status, body["model_version"]) == (200, "3")
    status, body, _ = call(f"{server}/model")
    assert status == 200
    assert body["name"] == "churn-classifier" and body["version"] == "3"
    assert body["run_id"] == "r1" and body["metrics"] == {"roc_auc": 0.81}
    assert body["threshold"] == 0.4 and body["scoring_path"] == "compiled"


def test_predict_one_record_a_list_and_rows_form_agree(server):
    pipeline = fitted("logistic_regression")
    valid, inputs = validated(3_000, 7)
    expected = pipeline.predict_proba(valid[inputs].head(2))[:, 1]
    one = call(f"{server}/predict", "POST", record(0))[1]
    listed = call(f"{server}/predict", "POST", [record(0), record(1)])[1]
    rows = call(f"{server}/predict", "POST", {"rows": [record(0), record(1)]})[1]
    assert one["model_version"] == "3" and one["threshold"] == 0.4
    assert one["predictions"][0]["churn_probability"] == pytest.approx(expected[0], abs=1e-12)
    assert [p["churn_probability"] for p in listed["predictions"]] == pytest.approx(expected)
    assert listed == rows
    for p in listed["predictions"]:
        assert p["churn_predicted"] == (p["churn_probability"] >= 0.4)
        assert p["flags"] == []


def test_int_and_float_fields_score_alike(server):
    as_float = record(0)
    as_int = {
        k: (int(v) if isinstance(v, float) and v.is_integer() else v) for k, v in as_float.items()
    }
    assert any(isinstance(v, int) for v in as_int.values())
    a = call(f"{server}/predict", "POST", as_float)[1]["predictions"]
    b = call(f"{server}/predict", "POST", as_int)[1]["predictions"]
    assert a == b


def test_reasons_are_the_batch_scorers(server):
    from churn_assets.ml.explain import top_reasons

    pipeline = fitted("logistic_regression")
    valid, inputs = validated(3_000, 7)
    baseline = pipeline.steps[0][1].baseline_
    expected = top_reasons(pipeline, valid[inputs].head(2), baseline, k=3)
    body = call(f"{server}/predict?reasons=3", "POST", [record(0), record(1)])[1]
    got = ["; ".join(p["reasons"]) for p in body["predictions"]]
    assert got == list(expected)
    assert call(f"{server}/predict?reasons=99", "POST", record(0))[0] == 422


def test_unseen_category_is_scored_and_flagged(server):
    row = record(0) | {"contract": "Lifetime"}
    status, body, _ = call(f"{server}/predict", "POST", row)
    assert status == 200
    assert body["predictions"][0]["flags"] == ["unseen_category:contract"]
    assert 0.0 <= body["predictions"][0]["churn_probability"] <= 1.0


def test_out_of_range_and_all_null_rows_are_flagged_and_counted(server):
    before = _metric(server, 'churn_server_flagged_rows_total{flag="out_of_range"}')
    empty_before = _metric(server, 'churn_server_flagged_rows_total{flag="all_features_missing"}')
    far = record(0) | {"tenure": -1e6}
    empty = {k: None for k in record(0)}
    status, body, _ = call(f"{server}/predict", "POST", [far, empty, record(1)])
    assert status == 200
    flags = [p["flags"] for p in body["predictions"]]
    assert flags[0] == ["out_of_range:tenure"]
    assert flags[1] == ["all_features_missing"]
    assert flags[2] == []
    assert _metric(server, 'churn_server_flagged_rows_total{flag="out_of_range"}') == before + 1
    after = _metric(server, 'churn_server_flagged_rows_total{flag="all_features_missing"}')
    assert after == empty_before + 1


def test_metrics_count_requests_and_rows(server):
    call(f"{server}/predict", "POST", [record(0), record(1)])
    text = call(f"{server}/metrics")[1]["text"]
    assert 'churn_server_requests_total{endpoint="/predict",status="200"}' in text
    assert "churn_server_model_version 3.0" in text
    assert "churn_server_batch_rows_count" in text


def test_openapi_docs(server):
    status, spec, _ = call(f"{server}/openapi.json")
    assert status == 200 and "/predict" in spec["paths"] and "/ready" in spec["paths"]
    assert call(f"{server}/docs")[0] == 200


def _metric(url: str, line: str) -> float:
    text = call(f"{url}/metrics")[1]["text"]
    for row in text.splitlines():
        if row.startswith(line + " "):
            return float(row.split()[-1])
    raise AssertionError(f"{line} not in /metrics")


def test_ready_is_503_until_a_model_loads_and_reload_needs_the_token():
    loader = Loader(version=None)
    config = ServerConfig(tracking_uri="unused", poll_seconds=0, operator_token="s3cret")
    with running(config, loader) as (url, state):
        assert call(f"{url}/health")[:2] == (200, {"status": "ok"})
        status, body, _ = call(f"{url}/ready")
        assert status == 503 and "registry unreachable" in body["error"]
        assert call(f"{url}/predict", "POST", record(0))[0] == 503
        loader.next = "5"
        assert call(f"{url}/reload", "POST")[0] == 401
        assert call(f"{url}/reload", "POST", headers={"Authorization": "Bearer wrong"})[0] == 401
        status, body, _ = call(f"{url}/reload", "POST", headers={"Authorization": "Bearer s3cret"})
        assert (status, body["model_version"], body["previous_version"]) == (200, "5", None)
        assert call(f"{url}/ready")[0] == 200
        loader.next = None  # a failed reload keeps the old model serving
        status, body, _ = call(f"{url}/reload", "POST", headers={"Authorization": "Bearer s3cret"})
        assert status == 503 and body["model_version"] == "5"
        assert call(f"{url}/predict", "POST", record(0))[1]["model_version"] == "5"


def test_reload_is_disabled_without_an_operator_token(server):
    status, body, _ = call(f"{server}/reload", "POST", headers={"Authorization": "Bearer x"})
    assert status == 403 and "CHURN_OPERATOR_TOKEN" in body["error"]
