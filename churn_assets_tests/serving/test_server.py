"""The model server over real HTTP on a loopback port: health, both predict formats, errors,
metrics, reload; and once against a real MLflow registry (sqlite) resolving the champion alias."""

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churn_assets.serving.server import LoadedModel, build_server
from churn_assets_tests.integration.services import require_module

NUMERIC, CATEGORICAL = ["tenure", "monthly_charges"], ["plan"]


def _fit(seed: int) -> Pipeline:
    rng = np.random.default_rng(seed)
    n = 120
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, n),
            "monthly_charges": rng.normal(70, 20, n),
            "plan": rng.choice(["basic", "premium"], n),
        }
    )
    target = ((frame["tenure"] < 20) ^ (rng.random(n) < 0.1)).astype(int)
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), NUMERIC),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=200)),
        ]
    )
    return pipe.fit(frame, target)


@pytest.fixture(scope="module")
def pipelines() -> tuple[Pipeline, Pipeline]:
    return _fit(0), _fit(1)


class SwitchableLoader:
    """A loader whose next answer the test chooses (or makes fail)."""

    def __init__(self, loaded: LoadedModel | None):
        self.next = loaded
        self.calls = 0

    def __call__(self) -> LoadedModel:
        self.calls += 1
        if self.next is None:
            raise RuntimeError("registry unreachable")
        return self.next


@contextmanager
def running(loader) -> Iterator[str]:
    server = build_server("127.0.0.1", 0, loader=loader)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def call(url: str, method: str = "GET", body: bytes | dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    if method == "POST" and data is None:
        data = b""
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


ROWS = [
    {"tenure": 3, "monthly_charges": 95.0, "plan": "basic"},
    {"tenure": 60, "monthly_charges": 40.0, "plan": "premium"},
]


@pytest.fixture
def server_url(pipelines) -> Iterator[str]:
    with running(SwitchableLoader(LoadedModel(pipelines[0], "3", 0.4))) as url:
        yield url


def test_health_reports_the_loaded_version(server_url):
    status, body = call(f"{server_url}/health")
    assert status == 200
    assert json.loads(body) == {
        "status": "ok",
        "model_name": "churn-classifier",
        "model_version": "3",
        "threshold": 0.4,
    }


def test_health_is_503_without_a_model_and_reload_recovers(pipelines):
    loader = SwitchableLoader(None)
    with running(loader) as url:
        status, body = call(f"{url}/health")
        assert status == 503 and "registry unreachable" in json.loads(body)["error"]
        assert call(f"{url}/predict", "POST", {"rows": ROWS})[0] == 503
        assert call(f"{url}/reload", "POST")[0] == 503
        loader.next = LoadedModel(pipelines[0], "1", 0.5)
        status, body = call(f"{url}/reload", "POST")
        assert status == 200 and json.loads(body)["model_version"] == "1"
        assert call(f"{url}/health")[0] == 200


def test_predict_rows_and_columns_formats_agree(server_url, pipelines):
    status, body = call(f"{server_url}/predict", "POST", {"rows": ROWS})
    assert status == 200, body
    by_rows = json.loads(body)
    assert by_rows["model_version"] == "3" and by_rows["threshold"] == 0.4
    expected = pipelines[0].predict_proba(pd.DataFrame(ROWS))[:, 1]
    got = [p["churn_probability"] for p in by_rows["predictions"]]
    np.testing.assert_allclose(got, expected)
    assert [p["churn_predicted"] for p in by_rows["predictions"]] == [bool(p >= 0.4) for p in got]

    # Columns in another order plus an extra column: selected by name, same answer.
    columns = ["plan", "monthly_charges", "tenure", "customer_id"]
    data = [[r["plan"], r["monthly_charges"], r["tenure"], f"c{i}"] for i, r in enumerate(ROWS)]
    status, body = call(f"{server_url}/predict", "POST", {"columns": columns, "data": data})
    assert status == 200, body
    assert json.loads(body)["predictions"] == by_rows["predictions"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"rows": [{"tenure": 3}]}, "missing columns: monthly_charges, plan"),
        (
            {"columns": ["tenure", "plan"], "data": [[3, "basic"]]},
            "missing columns: monthly_charges",
        ),
        (b"{not json", "not valid JSON"),
        ({"records": []}, '"rows" or "columns" and "data"'),
        ({"rows": []}, "no rows"),
        ({"columns": ["tenure"], "data": [[1, 2]]}, "row 0"),
        ({"rows": [{**ROWS[0], "tenure": "long"}]}, "could not be scored"),
    ],
)
def test_predict_rejects_bad_requests_with_a_clear_400(server_url, body, message):
    status, answer = call(f"{server_url}/predict", "POST", body)
    assert status == 400
    assert message in json.loads(answer)["error"]


def test_wrong_method_and_unknown_path(server_url):
    assert call(f"{server_url}/predict")[0] == 405
    assert call(f"{server_url}/nope")[0] == 404


def test_metrics_count_requests_predictions_and_version(server_url):
    call(f"{server_url}/predict", "POST", {"rows": ROWS})
    call(f"{server_url}/predict", "POST", b"{not json")
    status, body = call(f"{server_url}/metrics")
    assert status == 200
    text = body.decode()
    assert 'churn_server_requests_total{endpoint="/predict",status="200"} 1.0' in text
    assert 'churn_server_requests_total{endpoint="/predict",status="400"} 1.0' in text
    assert 'churn_server_request_duration_seconds_count{endpoint="/predict"} 2.0' in text
    churn = float(text.split('churn_server_predictions_total{outcome="churn"} ')[1].split()[0])
    stay = float(text.split('churn_server_predictions_total{outcome="no_churn"} ')[1].split()[0])
    assert churn + stay == len(ROWS)
    assert 'churn_server_model_info{model_name="churn-classifier",model_version="3"} 1.0' in text
    assert "churn_server_model_threshold 0.4" in text
    # A private registry: nothing of the process-wide default registry (python_gc_..., process_...).
    assert "python_gc_objects_collected_total" not in text


def test_reload_swaps_versions_and_a_failed_reload_keeps_serving(pipelines):
    loader = SwitchableLoader(LoadedModel(pipelines[0], "1", 0.5))
    with running(loader) as url:
        first = json.loads(call(f"{url}/predict", "POST", {"rows": ROWS})[1])
        loader.next = LoadedModel(pipelines[1], "2", 0.3)
        status, body = call(f"{url}/reload", "POST")
        assert status == 200
        assert json.loads(body) == {
            "previous_version": "1",
            "model_name": "churn-classifier",
            "model_version": "2",
            "threshold": 0.3,
        }
        second = json.loads(call(f"{url}/predict", "POST", {"rows": ROWS})[1])
        assert second["model_version"] == "2" and second["threshold"] == 0.3
        assert second["predictions"] != first["predictions"]
        text = call(f"{url}/metrics")[1].decode()
        assert 'model_version="2"} 1.0' in text and 'model_version="1"' not in text

        loader.next = None  # the registry goes away: the reload fails, version 2 keeps serving
        status, body = call(f"{url}/reload", "POST")
        assert status == 503 and json.loads(body)["model_version"] == "2"
        assert json.loads(call(f"{url}/health")[1])["model_version"] == "2"


def test_poll_reloads_only_when_the_alias_moved(pipelines):
    """`serve` polls loaders that can `resolve` the alias; a moved alias means a reload."""

    class Resolving(SwitchableLoader):
        def resolve(self):
            return self.next.version, {}

    loader = Resolving(LoadedModel(pipelines[0], "1", 0.5))
    server = build_server("127.0.0.1", 0, loader=loader)
    try:
        assert loader.calls == 1
        assert server.app.poll_once() is False and loader.calls == 1
        loader.next = LoadedModel(pipelines[1], "2", 0.5)
        assert server.app.poll_once() is True and server.app.current.version == "2"
    finally:
        server.server_close()


@pytest.mark.slow
def test_serves_the_champion_alias_of_a_real_mlflow_registry(tmp_path, pipelines, monkeypatch):
    """A sqlite MLflow registry: two versions, `champion` on v1, then moved to v2 and reloaded
    (about 10 s, most of it `log_model`)."""
    mlflow = require_module("mlflow", "mlflow is not installed")
    from mlflow import MlflowClient

    from churn_assets.serving.server import ChampionLoader

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("CHURN_MODEL_NAME", "served-churn")
    previous_uri, previous_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    # Both: an earlier test in the session may have pointed the global registry URI elsewhere.
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        client = MlflowClient(uri, uri)
        experiment = client.create_experiment("serving", artifact_location=str(tmp_path / "art"))
        # One logged model (logging is the slow part), registered twice: two versions that
        # differ by their threshold tag, which is enough to see which one serves.
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.sklearn.log_model(
                pipelines[0], name="model", pip_requirements=["scikit-learn"]
            )
        for threshold in ("0.35", "0.6"):
            version = mlflow.register_model(info.model_uri, "served-churn").version
            client.set_model_version_tag("served-churn", version, "threshold", threshold)
        client.set_registered_model_alias("served-churn", "champion", "1")

        loader = ChampionLoader()
        with running(loader) as url:
            health = json.loads(call(f"{url}/health")[1])
            assert health["model_name"] == "served-churn"
            assert (health["model_version"], health["threshold"]) == ("1", 0.35)
            body = json.loads(call(f"{url}/predict", "POST", {"rows": ROWS})[1])
            expected = pipelines[0].predict_proba(pd.DataFrame(ROWS))[:, 1]
            np.testing.assert_allclose(
                [p["churn_probability"] for p in body["predictions"]], expected
            )

            client.set_registered_model_alias("served-churn", "champion", "2")  # a promotion
            assert loader.resolve()[0] == "2"
            status, body = call(f"{url}/reload", "POST")
            assert status == 200, body
            assert json.loads(body)["previous_version"] == "1"
            health = json.loads(call(f"{url}/health")[1])
            assert (health["model_version"], health["threshold"]) == ("2", 0.6)
    finally:
        mlflow.set_tracking_uri(previous_uri)
        mlflow.set_registry_uri(previous_registry)
