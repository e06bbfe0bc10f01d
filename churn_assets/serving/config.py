"""The model server's settings, read from the environment once per worker process.

| variable | default | meaning |
|---|---|---|
| `MLFLOW_TRACKING_URI` / `MLFLOW_REGISTRY_URI` | (required) / tracking URI | the registry |
| `CHURN_MODEL_NAME` | `churn-classifier` | registered model |
| `CHURN_MODEL_VERSION` | unset | serve this version instead of the `champion` alias |
| `CHURN_MODEL_POLL_SECONDS` | 60 | how often each worker checks the alias (0: never) |
| `CHURN_OPERATOR_TOKEN` | unset | enables `POST /reload`; callers send `Authorization: Bearer` |
| `CHURN_SERVER_MAX_BODY_BYTES` | 10485760 | request bodies above this are refused (413) |
| `CHURN_SERVER_MAX_BATCH_ROWS` | 1024 | rows scored in one predict call at most |
| `CHURN_SERVER_MAX_WAIT_MS` | 2 | how long a batch waits for more requests |
| `CHURN_SERVER_QUEUE_SIZE` | 512 | requests waiting per worker before 503 + Retry-After |
| `CHURN_SERVER_READ_TIMEOUT` | 10 | seconds a client may take to send headers or body |
| `CHURN_SERVER_THREADS` | 1 | estimator threads per worker (XGBoost, HGB, forests) |
| `CHURN_SERVER_COMPILED` | 1 | 0 scores through the Pipeline instead of the compiled path |
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from churn_assets.constants import REGISTERED_MODEL_NAME


def _number(name: str, default: float, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not a number; unset it or give a number") from exc
    if value < minimum:
        raise ValueError(f"{name}={raw!r} must be >= {minimum:g}")
    return value


@dataclass(frozen=True)
class ServerConfig:
    """Settings of one worker; `from_env` documents where each comes from (table above)."""

    tracking_uri: str | None = None
    registry_uri: str | None = None
    model_name: str = REGISTERED_MODEL_NAME
    pinned_version: str | None = None
    poll_seconds: float = 60.0
    operator_token: str | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    max_batch_rows: int = 1024
    max_wait_seconds: float = 0.002
    queue_size: int = 512
    read_timeout: float = 10.0
    threads: int = 1
    compiled: bool = True
    max_depth: int = 400

    @classmethod
    def from_env(cls) -> ServerConfig:
        """Raises ValueError naming the variable when one is not a valid number."""
        return cls(
            tracking_uri=os.environ.get("MLFLOW_TRACKING_URI") or None,
            registry_uri=os.environ.get("MLFLOW_REGISTRY_URI") or None,
            model_name=os.environ.get("CHURN_MODEL_NAME") or REGISTERED_MODEL_NAME,
            pinned_version=os.environ.get("CHURN_MODEL_VERSION") or None,
            poll_seconds=_number("CHURN_MODEL_POLL_SECONDS", 60.0),
            operator_token=os.environ.get("CHURN_OPERATOR_TOKEN") or None,
            max_body_bytes=int(_number("CHURN_SERVER_MAX_BODY_BYTES", 10 * 1024 * 1024, 1)),
            max_batch_rows=int(_number("CHURN_SERVER_MAX_BATCH_ROWS", 1024, 1)),
            max_wait_seconds=_number("CHURN_SERVER_MAX_WAIT_MS", 2.0) / 1000.0,
            queue_size=int(_number("CHURN_SERVER_QUEUE_SIZE", 512, 1)),
            read_timeout=_number("CHURN_SERVER_READ_TIMEOUT", 10.0, 0.1),
            threads=int(_number("CHURN_SERVER_THREADS", 1, 0)),
            compiled=os.environ.get("CHURN_SERVER_COMPILED", "1").strip() not in ("0", "false"),
        )
