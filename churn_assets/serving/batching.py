"""Micro-batching: requests arriving within a few milliseconds are scored in one predict call.

Each worker has one bounded queue and one consumer task. A request puts its parsed rows on the
queue and awaits its share of the probabilities; the consumer takes the first request, waits
`max_wait` seconds for more, then drains the queue up to `max_rows` rows and scores them in one
call. A full queue raises `Overloaded` at once, which the app answers with 503 and Retry-After,
so overload shows as back-pressure instead of growing latency or memory. Scoring runs on the
event loop itself: a predict call of a batch takes a few milliseconds, and handing it to a
thread would cost more than it frees on the 1-2 cores a worker gets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


class Overloaded(RuntimeError):
    """The worker's queue is full; retry after a moment."""


@dataclass
class _Item:
    model: object
    rows: object
    future: asyncio.Future


class Batcher:
    """Queue + consumer; `score(model, [rows, ...])` returns one probability array per rows."""

    def __init__(
        self,
        score: Callable[[object, list], list[np.ndarray]],
        max_rows: int,
        max_wait: float,
        queue_size: int,
        observe: Callable[[int], None] | None = None,
    ):
        self.score = score
        self.max_rows = max_rows
        self.max_wait = max_wait
        self.queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=queue_size)
        self.observe = observe
        self._task: asyncio.Task | None = None
        self._pending: _Item | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def submit(self, model: object, rows) -> np.ndarray:
        """The probabilities of `rows`; raises Overloaded when the queue is full."""
        future = asyncio.get_running_loop().create_future()
        try:
            self.queue.put_nowait(_Item(model, rows, future))
        except asyncio.QueueFull as exc:
            raise Overloaded(f"{self.queue.maxsize} requests are waiting") from exc
        return await future

    def _take(self) -> list[_Item]:
        first = self._pending
        self._pending = None
        batch, rows = [first], len(first.rows)
        while rows < self.max_rows:
            try:
                item = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if item.model is not first.model or rows + len(item.rows) > self.max_rows:
                self._pending = item  # scored in the next batch (another model, or too big)
                break
            batch.append(item)
            rows += len(item.rows)
        return batch

    async def _run(self) -> None:
        while True:
            if self._pending is None:
                self._pending = await self.queue.get()
                if self.max_wait > 0 and self.queue.empty():
                    await asyncio.sleep(self.max_wait)
            batch = [i for i in self._take() if not i.future.done()]  # cancelled: client left
            if not batch:
                continue
            try:
                results = self.score(batch[0].model, [i.rows for i in batch])
            except Exception as exc:  # handed to every waiting request, which reports it
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            if self.observe is not None:
                self.observe(sum(len(i.rows) for i in batch))
            for item, result in zip(batch, results, strict=True):
                if not item.future.done():
                    item.future.set_result(result)
