"""The model server's HTTP API (FastAPI; OpenAPI at `/docs`).

- `GET /health`: 200 `{"status": "ok"}` while the process runs (liveness), model or not.
- `GET /ready`: 200 with the served version once a model is loaded, else 503 (readiness).
- `GET /model`: name, version, run id, holdout metrics, threshold, and the scoring path
  (`compiled`, or `pipeline (not compiled: <why>)`).
- `POST /predict`: one record `{column: value}`, a list of records, or `{"rows": [...]}`;
  answers probability, decision at the version's threshold and flags per row; `?reasons=3`
  adds the top 3 reasons as the batch scorer computes them. Bad input is a 4xx naming the row
  and field; a full queue is 503 with Retry-After.
- `POST /reload` (operator): disabled (403) unless `CHURN_OPERATOR_TOKEN` is set, then it needs
  `Authorization: Bearer <token>` (401 otherwise).
- `GET /metrics`: Prometheus exposition of every worker (see `metrics.py`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import Response

from churn_assets.ml.explain import top_reasons
from churn_assets.serving.batching import Overloaded
from churn_assets.serving.config import ServerConfig
from churn_assets.serving.limits import LimitsMiddleware
from churn_assets.serving.metrics import FLAGS
from churn_assets.serving.model import LoadedModel, RegistryLoader
from churn_assets.serving.schema import BadRequest, load_json, parse_rows
from churn_assets.serving.state import ServingState

log = logging.getLogger(__name__)
MAX_REASONS = 10
PREDICT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"type": "object", "description": "one record {column: value}"},
                    {"type": "array", "items": {"type": "object"}},
                    {"type": "object", "properties": {"rows": {"type": "array"}}},
                ]
            },
            "example": {"tenure": 3, "monthly_charges": 95.0, "contract": "Month-to-month"},
        }
    },
}


def _json(status: int, payload: dict, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload), status, headers, media_type="application/json")


def _reasons(model: LoadedModel, rows, k: int) -> list[list[str]]:
    frame = rows.frame(model.schema)
    text = top_reasons(model.pipeline, frame, model.baseline, k=k)
    return [t.split("; ") if t else [] for t in text]


def build_api(state: ServingState) -> FastAPI:
    """The FastAPI app over one worker's state (without the limits middleware)."""

    @asynccontextmanager
    async def lifespan(_app):
        await state.start()
        yield
        await state.stop()
        state.metrics.worker_exit()

    api = FastAPI(title="churn model server", lifespan=lifespan)

    @api.get("/health")
    async def health():
        """Liveness: the process answers, whether or not a model is loaded."""
        return {"status": "ok"}

    @api.get("/ready")
    async def ready():
        """Readiness: 200 once a model is loaded, else 503 with the last load error."""
        model = state.current
        if model is None:
            return _json(503, {"status": "no model loaded", "error": state.last_error})
        return {"status": "ready", "model_name": model.name, "model_version": model.version}

    @api.get("/model")
    async def model_info():
        """The served model: name, version, run id, holdout metrics, threshold, scoring path."""
        model = state.current
        if model is None:
            return _json(503, {"error": "no model loaded", "detail": state.last_error})
        return model.describe()

    @api.post("/predict", openapi_extra={"requestBody": PREDICT_BODY})
    async def predict(request: Request, reasons: int = 0):
        """Churn probability, decision and flags for each record.

        `churn-assets serve` answers this route in front of FastAPI (`predict_answer` from the
        limits middleware, the same function): routing and parameter solving cost more than
        scoring one row. This route documents it and serves an app built without that layer.
        """
        status, payload, headers = await predict_answer(
            state, await request.body(), f"reasons={reasons}"
        )
        return _json(status, payload, headers)

    @api.post("/reload")
    async def reload(request: Request):
        """Operator: load the served version again (after a promotion or a rollback)."""
        token = state.config.operator_token
        if token is None:
            return _json(403, {"error": "operator endpoints are off; set CHURN_OPERATOR_TOKEN"})
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return _json(401, {"error": "send Authorization: Bearer <CHURN_OPERATOR_TOKEN>"})
        try:
            previous, loaded = await state.reload()
        except Exception:
            current = state.current
            version = current.version if current else None
            return _json(
                503, {"error": f"reload failed: {state.last_error}", "model_version": version}
            )
        state.tell_other_workers()
        return {
            "previous_version": previous,
            "model_name": loaded.name,
            "model_version": loaded.version,
            "threshold": loaded.threshold,
        }

    @api.get("/metrics")
    async def metrics():
        body, content_type = state.metrics.render()
        return Response(body, media_type=content_type)

    return api


def _reasons_asked(query: str) -> int:
    """`reasons` of the query string (0 when absent); BadRequest unless 0..MAX_REASONS."""
    raw = parse_qs(query).get("reasons", ["0"])[-1]
    try:
        asked = int(raw)
    except ValueError:
        raise BadRequest(f"reasons must be a whole number, not {raw!r}", field="reasons") from None
    if not 0 <= asked <= MAX_REASONS:
        raise BadRequest(f"reasons must be between 0 and {MAX_REASONS}", field="reasons")
    return asked


async def predict_answer(state: ServingState, body: bytes, query: str) -> tuple[int, dict, dict]:
    """(status, JSON payload, headers) of `POST /predict` with `body` and `query`."""
    model = state.current
    if model is None:
        return 503, {"error": "no model loaded"}, {"Retry-After": "5"}
    try:
        reasons = _reasons_asked(query)
        if reasons and not model.baseline:
            raise BadRequest(f"version {model.version} carries no baseline for reasons", 409)
        rows = parse_rows(load_json(body, state.config.max_depth), model.schema)
    except BadRequest as exc:
        return exc.status, {"error": str(exc), "field": exc.field}, {}
    try:
        proba = await state.batcher.submit(model, rows)
    except Overloaded as exc:
        state.metrics.rejected.labels(reason="queue_full").inc()
        return 503, {"error": f"busy: {exc}; retry shortly"}, {"Retry-After": "1"}
    explained = await asyncio.to_thread(_reasons, model, rows, reasons) if reasons else None
    return 200, _answer(state, model, rows, proba, explained), {}


def _answer(state: ServingState, model: LoadedModel, rows, proba, explained) -> dict:
    threshold = model.threshold
    predictions = []
    churners = 0
    for i, p in enumerate(proba.tolist()):
        decided = p >= threshold
        churners += decided
        entry = {"churn_probability": p, "churn_predicted": decided, "flags": rows.flags[i]}
        if explained is not None:
            entry["reasons"] = explained[i]
        predictions.append(entry)
    m = state.metrics
    if churners:
        m.churn_rows.inc(churners)
    if len(predictions) > churners:
        m.no_churn_rows.inc(len(predictions) - churners)
    for flags in rows.flags:
        for flag in flags:
            kind = flag.split(":", 1)[0]
            if kind in FLAGS:
                m.flags.labels(flag=kind).inc()
    return {
        "model_name": model.name,
        "model_version": model.version,
        "threshold": threshold,
        "predictions": predictions,
    }


def create_app(config: ServerConfig | None = None, loader=None):
    """The ASGI app of one worker: FastAPI behind the limits middleware (uvicorn's factory)."""
    logging.basicConfig(  # worker processes start without the parent's logging set-up
        level=os.environ.get("CHURN_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = config or ServerConfig.from_env()
    state = ServingState(config, loader if loader is not None else RegistryLoader(config))
    app = LimitsMiddleware(
        build_api(state),
        config.max_body_bytes,
        config.read_timeout,
        state.metrics,
        predict=lambda body, query: predict_answer(state, body, query),
    )
    app.state = state  # for tests and the benchmark
    return app
