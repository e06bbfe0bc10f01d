"""One worker's serving state: the current model, (re)loading, alias polling, scoring.

A reload runs in a thread (loading takes seconds) and the new model is swapped in with one
assignment on the event loop, so every request is scored by exactly one model. With several
workers a `POST /reload` reaches one of them: it reloads and writes a new token into the file
`reload-requested` of the server's runtime folder (`CHURN_SERVER_RUNTIME_DIR`, set by
`churn-assets serve`), which the other workers read every second and follow. Each worker also
polls the alias every `CHURN_MODEL_POLL_SECONDS`, which also covers replicas in other pods.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from churn_assets.serving.batching import Batcher
from churn_assets.serving.config import ServerConfig
from churn_assets.serving.metrics import ServerMetrics
from churn_assets.serving.model import LoadedModel
from churn_assets.serving.schema import Rows

log = logging.getLogger(__name__)


def score_batch(model: LoadedModel, parts: list[Rows]) -> list[np.ndarray]:
    """One predict call for several requests' rows; the probabilities split back per request."""
    if len(parts) == 1:
        return [model.predict(parts[0])]
    rows = Rows(
        np.concatenate([p.numeric for p in parts]),
        np.concatenate([p.categorical for p in parts]),
        [f for p in parts for f in p.flags],
    )
    proba = model.predict(rows)
    return np.split(proba, np.cumsum([len(p) for p in parts])[:-1])


class ServingState:
    """What the endpoints share inside one worker process."""

    def __init__(self, config: ServerConfig, loader: Callable[[], LoadedModel]):
        self.config = config
        self.loader = loader
        self.metrics = ServerMetrics()
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self.batcher = Batcher(
            score_batch,
            config.max_batch_rows,
            config.max_wait_seconds,
            config.queue_size,
            observe=self.metrics.batch_rows.observe,
        )
        self._reload_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        runtime = os.environ.get("CHURN_SERVER_RUNTIME_DIR")
        self.nudge = Path(runtime) / "reload-requested" if runtime else None
        self._seen_nudge: str | None = None

    async def start(self) -> None:
        self.batcher.start()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self.try_reload(), name="initial-load"))
        self._tasks.append(loop.create_task(self._watch(), name="alias-watch"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.batcher.stop()

    async def reload(self) -> tuple[str | None, LoadedModel]:
        """Load the served version again and swap it in; returns (previous version, new model).

        Raises what the loader raised; the old model keeps serving then.
        """
        async with self._reload_lock:
            previous = self.current
            try:
                loaded = await asyncio.to_thread(self.loader)
            except Exception as exc:
                self.metrics.reloads.labels(result="failure").inc()
                first = str(exc).splitlines()[0] if str(exc) else ""
                self.last_error = f"{type(exc).__name__}: {first}"
                log.error("loading the model failed: %s", self.last_error)
                raise
            self.current, self.last_error = loaded, None
            self.metrics.reloads.labels(result="success").inc()
            self.metrics.served(loaded.version, loaded.threshold)
            log.info(
                "serving %s version %s (threshold %.3f, %s; previously %s)",
                loaded.name,
                loaded.version,
                loaded.threshold,
                loaded.scoring_path,
                previous.version if previous else "nothing",
            )
            return (previous.version if previous else None), loaded

    async def try_reload(self) -> bool:
        try:
            await self.reload()
        except Exception:  # logged and counted by reload; the old model keeps serving
            return False
        return True

    def _nudge_text(self) -> str | None:
        try:
            return self.nudge.read_text() if self.nudge is not None else None
        except OSError:  # not written yet
            return None

    def tell_other_workers(self) -> None:
        """Write a new token into the nudge file (atomically); the other workers follow."""
        if self.nudge is None:
            return
        token = f"{os.getpid()} {time.time_ns()}"
        partial = self.nudge.with_name(f".{self.nudge.name}.{os.getpid()}")
        partial.write_text(token)
        os.replace(partial, self.nudge)
        self._seen_nudge = token

    def _nudged(self) -> bool:
        """True once for every nudge written since this worker last looked."""
        text = self._nudge_text()
        if text is None or text == self._seen_nudge:
            return False
        self._seen_nudge = text
        return True

    async def poll_once(self) -> bool:
        """Reload when the alias moved (or nothing is loaded yet); True when it reloaded."""
        resolve = getattr(self.loader, "resolve", None)
        if resolve is None:
            return False
        try:
            version = await asyncio.to_thread(resolve)
        except Exception as exc:
            log.warning("could not resolve the served version: %s", str(exc).splitlines()[0])
            return False
        if self.current is not None and self.current.version == version:
            return False
        return await self.try_reload()

    async def _watch(self) -> None:
        self._seen_nudge = self._nudge_text()  # a nudge older than this worker is not for it
        last_poll = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            if self._nudged():
                await self.try_reload()
            poll = self.config.poll_seconds
            if poll > 0 and time.monotonic() - last_poll >= poll:
                last_poll = time.monotonic()
                await self.poll_once()
