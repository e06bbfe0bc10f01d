"""Fault: 1,000 batch files land at once. No file is requested twice (even when a tick is
replayed after a daemon crash), each tick asks for at most MAX_RUNS_PER_TICK runs, and the cursor
moves once per tick, by exactly the files that tick requested."""

import json

import pytest
from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context

from churn_assets.defs.monitoring import batches
from churn_assets.defs.sensors import MAX_RUNS_PER_TICK, landing_sensor
from churn_assets.resources.landing import LocalLanding

pytestmark = [pytest.mark.faults, pytest.mark.slow]
FILES = 1_000


def _tick(instance: DagsterInstance, folder, cursor: str | None):
    result = landing_sensor(
        build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"landing": LocalLanding(folder=str(folder))},
        )
    )
    return result


def _apply(instance: DagsterInstance, result: SensorResult) -> None:
    """What the daemon does with a tick's partition requests."""
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)


def test_a_thousand_files_at_once(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    for i in range(FILES):  # written under a hidden name, then renamed: how clients land files
        hidden = landing / f".batch_{i:04d}.csv"
        hidden.write_text(f"customer_id,tenure\nC{i},{i % 72}\n")
        hidden.rename(landing / f"batch_{i:04d}.csv")

    instance = DagsterInstance.ephemeral()
    cursor, launched, ticks = None, {}, 0
    while True:
        result = _tick(instance, landing, cursor)
        if isinstance(result, SkipReason):
            break
        ticks += 1
        assert ticks <= FILES, "the sensor never ran dry"
        keys = [r.run_key for r in result.run_requests]
        assert 0 < len(keys) <= MAX_RUNS_PER_TICK
        assert len(set(keys)) == len(keys)

        # A daemon that crashed after launching these runs but before saving the cursor replays
        # the tick from the old cursor: the same run keys, so its run-key check launches nothing.
        replay = _tick(instance, landing, cursor)
        assert [r.run_key for r in replay.run_requests] == keys

        before = json.loads(cursor) if cursor else {}
        after = json.loads(result.cursor)
        requested = {r.partition_key for r in result.run_requests}
        assert set(after) - set(before) == requested  # moved by exactly this tick's files
        assert all(after[name] == before[name] for name in before)
        for key in keys:
            launched[key] = launched.get(key, 0) + 1
        _apply(instance, result)
        cursor = result.cursor

    assert ticks == FILES // MAX_RUNS_PER_TICK
    assert len(launched) == FILES and set(launched.values()) == {1}
    assert {k.split(":")[0] for k in launched} == {f"batch_{i:04d}.csv" for i in range(FILES)}
    assert len(instance.get_dynamic_partitions(batches.name)) == FILES
    assert "no new batch files (1000 known)" in str(_tick(instance, landing, cursor).skip_message)
