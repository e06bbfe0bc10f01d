"""Micro-batching: concurrent requests are scored in one predict call and each gets its own
share back; a full queue refuses at once; a failing predict reaches every waiting request."""

import asyncio

import numpy as np
import pytest

from churn_assets.serving.batching import Batcher, Overloaded


class Rows(list):
    """Stands in for parsed rows: only len() matters to the batcher."""


def scorer(calls: list):
    def score(model, parts):
        calls.append([len(p) for p in parts])
        return [np.asarray(p, dtype=float) * model for p in parts]

    return score


def test_concurrent_requests_share_one_predict_call():
    calls = []

    async def scenario():
        batcher = Batcher(scorer(calls), max_rows=100, max_wait=0.01, queue_size=50)
        batcher.start()
        requests = [batcher.submit(2, Rows([i, i + 1])) for i in range(10)]
        results = await asyncio.gather(*requests)
        await batcher.stop()
        return results

    results = asyncio.run(scenario())
    assert calls == [[2] * 10]  # ten requests, one predict call
    for i, result in enumerate(results):
        assert result.tolist() == [2 * i, 2 * (i + 1)]


def test_a_batch_stops_at_max_rows_and_at_another_model():
    calls = []

    async def scenario():
        batcher = Batcher(scorer(calls), max_rows=5, max_wait=0.01, queue_size=50)
        batcher.start()
        submitted = [batcher.submit(1, Rows([0, 0])) for _ in range(4)]
        submitted.append(batcher.submit(3, Rows([1])))
        results = await asyncio.gather(*submitted)
        await batcher.stop()
        return results

    results = asyncio.run(scenario())
    assert calls == [[2, 2], [2, 2], [1]]
    assert results[-1].tolist() == [3.0]


def test_a_full_queue_refuses_at_once():
    async def scenario():
        batcher = Batcher(scorer([]), max_rows=10, max_wait=0.0, queue_size=2)  # not started
        first = asyncio.ensure_future(batcher.submit(1, Rows([1])))
        second = asyncio.ensure_future(batcher.submit(1, Rows([1])))
        await asyncio.sleep(0)
        with pytest.raises(Overloaded, match="2 requests are waiting"):
            await batcher.submit(1, Rows([1]))
        first.cancel()
        second.cancel()

    asyncio.run(scenario())


def test_a_failing_predict_reaches_every_request():
    def broken(model, parts):
        raise RuntimeError("estimator exploded")

    async def scenario():
        batcher = Batcher(broken, max_rows=10, max_wait=0.01, queue_size=10)
        batcher.start()
        results = await asyncio.gather(
            batcher.submit(1, Rows([1])), batcher.submit(1, Rows([2])), return_exceptions=True
        )
        await batcher.stop()
        return results

    results = asyncio.run(scenario())
    assert [str(r) for r in results] == ["estimator exploded"] * 2
