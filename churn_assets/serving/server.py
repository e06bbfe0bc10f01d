"""The churn model server: the registry's champion behind a small HTTP API.

Endpoints:

- `GET /health`: 200 with the served model's name, version and threshold once a model is loaded,
  503 before (or while the registry cannot be reached at start-up).
- `POST /predict`: JSON `{"rows": [{column: value, ...}, ...]}` or
  `{"columns": [...], "data": [[...], ...]}` with the raw feature columns of the source data;
  answers `{"model_name", "model_version", "threshold", "predictions": [{"churn_probability",
  "churn_predicted"}, ...]}`. 400 names missing columns, bad JSON or a malformed body; 503 when no
  model is loaded.
- `POST /reload`: resolve the `champion` alias again and load its version (after a promotion or a
  rollback); 200 with the old and new versions, 503 (the old model keeps serving) when it fails.
- `GET /metrics`: Prometheus exposition from the server's own `CollectorRegistry` (requests by
  endpoint and status, latency, predictions, the served version).

The champion is loaded with `mlflow.sklearn.load_model`: the alias `models:/<name>@champion` is
resolved to its version first and that version is loaded, so the version the server reports is
exactly the one it serves even when the alias moves during the load. The decision threshold is the
version's `threshold` tag (0.5 when the tag is missing, with a warning). With several replicas
behind one Service a `POST /reload` reaches only one of them, so `serve` also polls the alias
(`CHURN_MODEL_POLL_SECONDS`, default 60, 0 turns it off) and reloads when it has moved.

Standard library HTTP only (`ThreadingHTTPServer`): one process, a thread per connection, no
extra dependency; the model is read-only once loaded and swapped atomically under a lock.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "churn-classifier"
CHAMPION_ALIAS = "champion"
DEFAULT_THRESHOLD = 0.5
MAX_BODY_BYTES = 10 * 1024 * 1024
KNOWN_ENDPOINTS = ("/health", "/predict", "/reload", "/metrics")


class BadRequest(ValueError):
    """The request cannot be scored as sent; the message is returned to the client."""


@dataclass(frozen=True)
class LoadedModel:
    """A fitted scikit-learn Pipeline with the registry facts the server reports."""

    model: Any
    version: str
    threshold: float = DEFAULT_THRESHOLD
    name: str = DEFAULT_MODEL_NAME
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str] | None:
        """The raw input columns the Pipeline was fitted on (None when it does not say)."""
        names = getattr(self.model, "feature_names_in_", None)
        return None if names is None else [str(c) for c in names]


Loader = Callable[[], LoadedModel]


class ChampionLoader:
    """Loads the version the `champion` alias of a registered model points at."""

    def __init__(
        self,
        tracking_uri: str | None = None,
        model_name: str | None = None,
        alias: str = CHAMPION_ALIAS,
        registry_uri: str | None = None,
    ):
        self.tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if not self.tracking_uri:
            raise ValueError("MLFLOW_TRACKING_URI is not set: the server cannot find the registry")
        self.registry_uri = registry_uri or os.environ.get("MLFLOW_REGISTRY_URI") or None
        self.model_name = model_name or os.environ.get("CHURN_MODEL_NAME") or DEFAULT_MODEL_NAME
        self.alias = alias
        # MLflow retries each HTTP call about four minutes by default; a server start or a reload
        # should fail in seconds and be retried by the poll or the operator instead.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")

    def _client(self):
        from mlflow import MlflowClient

        return MlflowClient(self.tracking_uri, self.registry_uri or self.tracking_uri)

    def resolve(self) -> tuple[str, dict[str, str]]:
        """The version `models:/<name>@<alias>` points at now, and its tags."""
        found = self._client().get_model_version_by_alias(self.model_name, self.alias)
        return str(found.version), dict(found.tags)

    def __call__(self) -> LoadedModel:
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri or self.tracking_uri)
        version, tags = self.resolve()
        model = mlflow.sklearn.load_model(f"models:/{self.model_name}/{version}")
        return LoadedModel(
            model=model,
            version=version,
            threshold=_threshold(tags, self.model_name, version),
            name=self.model_name,
            tags=tags,
        )


def _threshold(tags: dict[str, str], name: str, version: str) -> float:
    raw = tags.get("threshold")
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        value = math.nan
    if not (0.0 <= value <= 1.0):
        log.warning(
            "version %s of '%s' has no usable `threshold` tag (%r); using %.2f",
            version,
            name,
            raw,
            DEFAULT_THRESHOLD,
        )
        return DEFAULT_THRESHOLD
    return value


class ServerMetrics:
    """The server's Prometheus metrics, in a registry of its own (nothing global)."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "churn_server_requests",
            "HTTP requests answered by the model server, by endpoint and status code.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "churn_server_request_duration_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.predictions = Counter(
            "churn_server_predictions",
            "Rows scored, by predicted outcome at the model's threshold.",
            ["outcome"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "churn_server_model_info",
            "1 for the model version being served (labels name it).",
            ["model_name", "model_version"],
            registry=self.registry,
        )
        self.model_loaded = Gauge(
            "churn_server_model_loaded",
            "1 when a model is loaded and served.",
            registry=self.registry,
        )
        self.threshold = Gauge(
            "churn_server_model_threshold",
            "Decision threshold of the served model.",
            registry=self.registry,
        )
        self.reloads = Counter(
            "churn_server_reloads",
            "Model (re)loads, by result.",
            ["result"],
            registry=self.registry,
        )
        for outcome in ("churn", "no_churn"):
            self.predictions.labels(outcome=outcome)
        for result in ("success", "failure"):
            self.reloads.labels(result=result)

    def served(self, loaded: LoadedModel) -> None:
        self.model_info.clear()
        self.model_info.labels(model_name=loaded.name, model_version=loaded.version).set(1)
        self.model_loaded.set(1)
        self.threshold.set(loaded.threshold)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class ModelApp:
    """What the handler serves: the current model, loading, scoring and metrics."""

    def __init__(self, loader: Loader):
        self.loader = loader
        self.metrics = ServerMetrics()
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._current: LoadedModel | None = None
        self.last_error: str | None = None

    @property
    def current(self) -> LoadedModel | None:
        with self._lock:
            return self._current

    def reload(self) -> tuple[str | None, LoadedModel]:
        """Load the champion again and swap it in; the old model serves until then.

        Returns (previous version, new model); raises whatever the loader raised.
        """
        with self._reload_lock:  # one load at a time; requests keep being answered meanwhile
            previous = self.current
            try:
                loaded = self.loader()
                if not hasattr(loaded.model, "predict_proba"):
                    raise TypeError(f"version {loaded.version} has no predict_proba")
            except Exception as exc:
                self.metrics.reloads.labels(result="failure").inc()
                first_line = str(exc).splitlines()[0] if str(exc) else ""
                self.last_error = f"{type(exc).__name__}: {first_line}"
                log.error("loading the champion failed: %s", self.last_error)
                raise
            with self._lock:
                self._current = loaded
            self.last_error = None
            self.metrics.reloads.labels(result="success").inc()
            self.metrics.served(loaded)
            log.info(
                "serving %s version %s (threshold %.3f; previously %s)",
                loaded.name,
                loaded.version,
                loaded.threshold,
                previous.version if previous else "nothing",
            )
            return (previous.version if previous else None), loaded

    def try_reload(self) -> bool:
        try:
            self.reload()
        except Exception:  # logged and counted by reload; the old model keeps serving
            return False
        return True

    def poll_once(self) -> bool:
        """Reload when the alias has moved (loaders that can `resolve` only); True if reloaded."""
        resolve = getattr(self.loader, "resolve", None)
        if resolve is None:
            return False
        current = self.current
        try:
            version, _ = resolve()
        except Exception as exc:
            log.warning("could not resolve the champion alias: %s", str(exc).splitlines()[0])
            return False
        if current is not None and current.version == version:
            return False
        return self.try_reload()

    def predict(self, body: bytes) -> dict[str, Any]:
        loaded = self.current
        if loaded is None:
            raise LookupError("no model loaded")
        frame = _frame(body, loaded.columns)
        try:
            proba = loaded.model.predict_proba(frame)[:, 1]
        except (ValueError, TypeError, KeyError) as exc:
            raise BadRequest(f"the rows could not be scored: {str(exc).splitlines()[0]}") from exc
        predicted = [bool(p >= loaded.threshold) for p in proba]
        positives = sum(predicted)
        self.metrics.predictions.labels(outcome="churn").inc(positives)
        self.metrics.predictions.labels(outcome="no_churn").inc(len(predicted) - positives)
        return {
            "model_name": loaded.name,
            "model_version": loaded.version,
            "threshold": loaded.threshold,
            "predictions": [
                {"churn_probability": float(p), "churn_predicted": c}
                for p, c in zip(proba, predicted, strict=True)
            ],
        }


def _frame(body: bytes, columns: list[str] | None):
    """The request body as a DataFrame with exactly the model's columns, or BadRequest."""
    import pandas as pd

    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise BadRequest('expected a JSON object with "rows" or "columns" and "data"')
    if "rows" in payload:
        rows = payload["rows"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise BadRequest('"rows" must be a list of objects {column: value}')
        frame = pd.DataFrame.from_records(rows)
    elif "columns" in payload and "data" in payload:
        cols, data = payload["columns"], payload["data"]
        if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
            raise BadRequest('"columns" must be a list of column names')
        if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
            raise BadRequest('"data" must be a list of rows (lists of values)')
        bad = [i for i, r in enumerate(data) if len(r) != len(cols)]
        if bad:
            raise BadRequest(
                f'row {bad[0]} of "data" has {len(data[bad[0]])} values for {len(cols)} columns'
            )
        frame = pd.DataFrame(data, columns=cols)
    else:
        raise BadRequest('expected a JSON object with "rows" or "columns" and "data"')
    if len(frame) == 0:
        raise BadRequest("no rows to score")
    if columns is None:
        return frame
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BadRequest(f"missing columns: {', '.join(missing)}")
    return frame[columns]


class _Handler(BaseHTTPRequestHandler):
    server: ModelHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "churn-model-server"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _endpoint(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        return path if path in KNOWN_ENDPOINTS else "other"

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> int:
        self._send(status, json.dumps(payload).encode(), "application/json")
        return status

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            raise BadRequest("a Content-Length header is required")
        try:
            size = int(length)
        except ValueError as exc:
            raise BadRequest("Content-Length is not a number") from exc
        if size > MAX_BODY_BYTES:
            raise OverflowError(f"the body is larger than {MAX_BODY_BYTES} bytes")
        return self.rfile.read(size)

    def _handle(self, method: str) -> None:
        app = self.server.app
        endpoint = self._endpoint()
        started = time.perf_counter()
        status = HTTPStatus.INTERNAL_SERVER_ERROR
        try:
            status = self._route(app, method, endpoint)
        except Exception:
            log.exception("%s %s failed", method, self.path)
            status = self._json(500, {"error": "internal error; see the server log"})
        finally:
            app.metrics.requests.labels(endpoint=endpoint, status=str(int(status))).inc()
            app.metrics.latency.labels(endpoint=endpoint).observe(time.perf_counter() - started)

    def _route(self, app: ModelApp, method: str, endpoint: str) -> int:
        routes = {
            "/health": ("GET", self._health),
            "/metrics": ("GET", self._metrics),
            "/predict": ("POST", self._predict),
            "/reload": ("POST", self._reload),
        }
        if endpoint not in routes:
            return self._json(404, {"error": f"no such endpoint: {self.path}"})
        allowed, action = routes[endpoint]
        if method != allowed:
            # An unread body must not be parsed as the next request on this connection.
            self.close_connection = method == "POST"
            return self._json(405, {"error": f"{endpoint} accepts {allowed} only"})
        return action(app)

    def _health(self, app: ModelApp) -> int:
        loaded = app.current
        if loaded is None:
            return self._json(503, {"status": "no model loaded", "error": app.last_error})
        return self._json(
            200,
            {
                "status": "ok",
                "model_name": loaded.name,
                "model_version": loaded.version,
                "threshold": loaded.threshold,
            },
        )

    def _metrics(self, app: ModelApp) -> int:
        body, content_type = app.metrics.render()
        self._send(200, body, content_type)
        return 200

    def _predict(self, app: ModelApp) -> int:
        try:
            return self._json(200, app.predict(self._body()))
        except BadRequest as exc:
            return self._json(400, {"error": str(exc)})
        except OverflowError as exc:
            self.close_connection = True
            return self._json(413, {"error": str(exc)})
        except LookupError:
            return self._json(503, {"error": "no model loaded", "detail": app.last_error})

    def _reload(self, app: ModelApp) -> int:
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= MAX_BODY_BYTES:
            self.rfile.read(length)  # the body carries nothing; drain it for keep-alive
        try:
            previous, loaded = app.reload()
        except Exception:
            current = app.current
            return self._json(
                503,
                {
                    "error": f"reload failed: {app.last_error}",
                    "model_version": current.version if current else None,
                },
            )
        return self._json(
            200,
            {
                "previous_version": previous,
                "model_name": loaded.name,
                "model_version": loaded.version,
                "threshold": loaded.threshold,
            },
        )

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class ModelHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer carrying the ModelApp its handlers use."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: ModelApp):
        super().__init__(address, _Handler)
        self.app = app


def build_server(
    host: str = "127.0.0.1", port: int = 8080, loader: Loader | None = None, load: bool = True
) -> ModelHTTPServer:
    """A bound (not yet serving) server; `loader` defaults to the registry's champion.

    With `load`, the first model is loaded before returning; a failure is logged and the server
    answers 503 on /health and /predict until a reload succeeds.
    """
    app = ModelApp(loader if loader is not None else ChampionLoader())
    server = ModelHTTPServer((host, port), app)
    if load:
        app.try_reload()
    return server


def _poll(app: ModelApp, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        app.poll_once()


def serve(host: str = "0.0.0.0", port: int = 8080, poll_seconds: float | None = None) -> int:
    """Serve the champion until SIGTERM/SIGINT; returns 0 (the CLI's exit code).

    The port is bound before the first load, so a slow or unreachable registry shows as 503 on
    /health (not a refused connection); the alias is polled every `poll_seconds`
    (CHURN_MODEL_POLL_SECONDS, default 60, 0 = never) and, until a model loads, retried then.
    """
    logging.basicConfig(  # a no-op when the process already configured logging
        level=os.environ.get("CHURN_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if poll_seconds is None:
        poll_seconds = float(os.environ.get("CHURN_MODEL_POLL_SECONDS", "60"))
    server = build_server(host, port, load=False)
    app = server.app
    stop = threading.Event()
    threading.Thread(target=app.try_reload, name="initial-load", daemon=True).start()
    if poll_seconds > 0:
        threading.Thread(
            target=_poll, args=(app, poll_seconds, stop), name="alias-poll", daemon=True
        ).start()

    def _stop(signum, _frame):
        log.info("signal %s: shutting down", signum)
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("model server listening on http://%s:%s", host, server.server_address[1])
    try:
        server.serve_forever()
    finally:
        stop.set()
        server.server_close()
    return 0
