"""A stand-in for the model server, speaking its HTTP contract, for the deployment tests.

It serves the registered version it is told to (a callable, or CHURN_MODEL_VERSION when run as a
process) with the real model loaded from the test's MLflow store, so the smoke test's comparison
with the registry is a real one. Faults on demand: versions listed as `unready` answer 503 on
/ready forever; versions listed as `broken` answer probabilities of 1.5.

    python -m churn_assets_tests.fake_model_server --host 127.0.0.1 --port 8123
    (env: MLFLOW_TRACKING_URI, CHURN_MODEL_VERSION, CHURN_FAKE_BROKEN=3,4 CHURN_FAKE_UNREADY=5)
"""

import argparse
import json
import os
import threading
from collections.abc import Callable, Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
from mlflow import MlflowClient

from churn_assets.resources.model_registry import ModelRegistry

MODEL_NAME = "churn-classifier"


class FakeModelServer:
    def __init__(
        self,
        tracking_uri: str,
        version_source: Callable[[], str | None],
        broken: Collection[str] = (),
        unready: Collection[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.registry = ModelRegistry(MlflowClient(tracking_uri, tracking_uri), MODEL_NAME)
        self.version_source = version_source
        self.broken, self.unready = set(broken), set(unready)
        self._models: dict[str, object] = {}
        handler = type("_Bound", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeModelServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def model(self, version: str):
        if version not in self._models:
            self._models[version] = self.registry.load(version)
        return self._models[version]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeModelServer

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        version = self.fake.version_source()
        if self.path == "/health":
            return self._send(200, {"status": "ok"})
        if self.path == "/ready":
            ready = version is not None and version not in self.fake.unready
            return self._send(200 if ready else 503, {"ready": ready})
        if self.path == "/model" and version is not None:
            tags = self.fake.registry.version_tags(version)
            return self._send(
                200,
                {
                    "name": MODEL_NAME,
                    "version": version,
                    "run_id": None,
                    "metrics": {},
                    "threshold": float(tags.get("threshold", 0.5)),
                },
            )
        self._send(404, {"detail": f"no {self.path}"})

    def do_POST(self) -> None:  # noqa: N802
        version = self.fake.version_source()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        rows = body.get("rows", [body]) if isinstance(body, dict) else body
        model = self.fake.model(version)
        frame = pd.DataFrame(rows)[list(model.feature_names_in_)]
        proba = model.predict_proba(frame)[:, 1]
        if version in self.fake.broken:
            proba = proba * 0 + 1.5
        predictions = [
            {"churn_probability": float(p), "churn_predicted": bool(p >= 0.5)} for p in proba
        ]
        self._send(
            200, {"model_name": MODEL_NAME, "model_version": version, "predictions": predictions}
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    def listed(name: str) -> set[str]:
        return {v for v in os.environ.get(name, "").split(",") if v}

    server = FakeModelServer(
        os.environ["MLFLOW_TRACKING_URI"],
        lambda: os.environ.get("CHURN_MODEL_VERSION"),
        broken=listed("CHURN_FAKE_BROKEN"),
        unready=listed("CHURN_FAKE_UNREADY"),
        host=args.host,
        port=args.port,
    )
    version = os.environ.get("CHURN_MODEL_VERSION")
    if version:  # loaded before the port opens, as the real server is ready only when loaded
        server.model(version)
    server.httpd.serve_forever()


if __name__ == "__main__":
    main()
