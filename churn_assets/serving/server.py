"""`churn-assets serve`: the model server under uvicorn with several worker processes.

Each worker is a process of its own (uvicorn's `workers`), loads the model itself, and batches
its own requests; the port is shared by the kernel. The parent makes a runtime folder for the
workers: Prometheus' multiprocess files (`PROMETHEUS_MULTIPROC_DIR`, so `/metrics` sums every
worker) and the file a `POST /reload` touches so that every worker follows (see `state.py`).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

from churn_assets.serving.config import ServerConfig

log = logging.getLogger(__name__)
APP = "churn_assets.serving.app:create_app"
PROTOCOL = "churn_assets.serving.limits:GuardedHttpToolsProtocol"


def uvicorn_options(config: ServerConfig) -> dict:
    """Keyword arguments of `uvicorn.run` shared by `serve` and the tests."""
    return {
        "factory": True,
        "http": PROTOCOL,
        "loop": "uvloop",
        "backlog": 2048,  # bursts wait in the kernel queue instead of being reset
        "timeout_keep_alive": max(1, int(config.read_timeout)),
        # A worker imports MLflow, scikit-learn and XGBoost before it answers the parent's
        # health ping; on a busy node that took longer than uvicorn's 5 s and workers were
        # killed and restarted in a loop.
        "timeout_worker_healthcheck": 60,
        "access_log": False,
        "log_level": os.environ.get("CHURN_LOG_LEVEL", "info").lower(),
    }


def serve(host: str = "127.0.0.1", port: int = 8080, workers: int = 2) -> int:
    """Serve until SIGTERM/SIGINT; returns the CLI's exit code (2 when misconfigured)."""
    import uvicorn

    logging.basicConfig(
        level=os.environ.get("CHURN_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = ServerConfig.from_env()
        if not config.tracking_uri:
            raise ValueError("MLFLOW_TRACKING_URI is not set: the server cannot find the registry")
        if workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}")
    except ValueError as exc:
        log.error("cannot start the model server: %s", exc)
        return 2
    runtime = tempfile.mkdtemp(prefix="churn-serve-")
    os.environ["CHURN_SERVER_RUNTIME_DIR"] = runtime
    if workers > 1:
        os.makedirs(os.path.join(runtime, "metrics"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(runtime, "metrics")
    log.info(
        "model server on http://%s:%s with %d worker(s), %s; operator endpoints %s",
        host,
        port,
        workers,
        f"version {config.pinned_version}" if config.pinned_version else "the champion alias",
        "on (token set)" if config.operator_token else "off (CHURN_OPERATOR_TOKEN unset)",
    )
    try:
        uvicorn.run(APP, host=host, port=port, workers=workers, **uvicorn_options(config))
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    return 0
