"""Sensors without training: the landing sensor's cursor, the drift sensor's paging and the
failure alert's webhook. Each test evaluates ticks with `build_sensor_context` and applies the
dynamic partition requests as the daemon would."""

import json

import pytest
from dagster import (
    AssetMaterialization,
    DagsterEventType,
    DagsterInstance,
    RunRequest,
    SensorResult,
    SkipReason,
    build_run_status_sensor_context,
    build_sensor_context,
    job,
    op,
)

from churn_assets.defs.sensors import (
    MAX_RUNS_PER_TICK,
    drift_retraining_sensor,
    landing_sensor,
    run_failure_alert,
)
from churn_assets.resources.alerts import AlertWebhook
from churn_assets.resources.landing import LocalLanding
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.retraining import RetrainingPolicy
from churn_assets_tests.resources.webhook import webhook_server


@pytest.fixture
def webhook():
    with webhook_server() as hook:
        yield hook


def tick(instance: DagsterInstance, folder, cursor: str | None = None):
    """One landing sensor tick; dynamic partitions are added as the daemon adds them."""
    result = landing_sensor(
        build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"landing": LocalLanding(folder=str(folder))},
        )
    )
    if isinstance(result, SensorResult):
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    return result


def write(folder, name: str, text: str = "customer_id,tenure\nC1,3\n") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_first_tick_requests_one_run_per_new_file(tmp_path):
    instance = DagsterInstance.ephemeral()
    landing = tmp_path / "landing"
    for name in ("b.csv", "a.csv", "c.parquet"):
        write(landing, name)
    write(landing, "notes.txt")  # not a batch file
    write(landing, ".hidden.csv")  # a file being written by a client, by convention

    result = tick(instance, landing)

    assert isinstance(result, SensorResult)
    keys = [r.partition_key for r in result.run_requests]
    assert keys == ["a.csv", "b.csv", "c.parquet"]
    stamps = LocalLanding(folder=str(landing)).list_batches()
    for request in result.run_requests:
        assert isinstance(request, RunRequest)
        assert request.run_key == f"{request.partition_key}:{stamps[request.partition_key]}"
        assert request.tags["churn/batch"] == request.partition_key
    [add] = result.dynamic_partitions_requests
    assert add.partitions_def_name == "customer_batches"
    assert sorted(add.partition_keys) == keys
    assert json.loads(result.cursor) == stamps
    assert sorted(instance.get_dynamic_partitions("customer_batches")) == keys


def test_same_cursor_skips_and_a_restarted_daemon_does_not_double_request(tmp_path):
    instance = DagsterInstance.ephemeral()
    landing = tmp_path / "landing"
    write(landing, "a.csv")
    first = tick(instance, landing)

    again = tick(instance, landing, first.cursor)
    assert isinstance(again, SkipReason)
    assert "no new batch files (1 known)" in again.skip_message

    # A restarted daemon builds a new context from the saved cursor: still nothing to do.
    restarted = landing_sensor(
        build_sensor_context(
            instance=DagsterInstance.ephemeral(),
            cursor=first.cursor,
            resources={"landing": LocalLanding(folder=str(landing))},
        )
    )
    assert isinstance(restarted, SkipReason)
    # Had the cursor been lost, the run key is the same, so the daemon would drop the request.
    lost = tick(instance, landing, None)
    assert [r.run_key for r in lost.run_requests] == [r.run_key for r in first.run_requests]


def test_a_changed_file_is_requested_again_without_adding_its_partition_twice(tmp_path):
    instance = DagsterInstance.ephemeral()
    landing = tmp_path / "landing"
    write(landing, "a.csv")
    write(landing, "b.csv")
    first = tick(instance, landing)

    write(landing, "a.csv", "customer_id,tenure\nC1,3\nC2,4\n")  # rewritten: new size and mtime
    second = tick(instance, landing, first.cursor)

    assert [r.partition_key for r in second.run_requests] == ["a.csv"]
    [old] = [r for r in first.run_requests if r.partition_key == "a.csv"]
    assert second.run_requests[0].run_key != old.run_key
    assert all(not r.partition_keys for r in second.dynamic_partitions_requests)
    assert json.loads(second.cursor)["b.csv"] == json.loads(first.cursor)["b.csv"]
    assert isinstance(tick(instance, landing, second.cursor), SkipReason)


def test_more_files_than_a_tick_allows_are_spread_over_ticks(tmp_path):
    instance = DagsterInstance.ephemeral()
    landing = tmp_path / "landing"
    names = [f"batch_{i:03d}.csv" for i in range(MAX_RUNS_PER_TICK + 3)]
    for name in names:
        write(landing, name)

    first = tick(instance, landing)
    assert len(first.run_requests) == MAX_RUNS_PER_TICK
    second = tick(instance, landing, first.cursor)
    assert len(second.run_requests) == 3
    requested = [r.partition_key for r in first.run_requests + second.run_requests]
    assert sorted(requested) == names and len(set(requested)) == len(names)
    assert isinstance(tick(instance, landing, second.cursor), SkipReason)
    assert sorted(instance.get_dynamic_partitions("customer_batches")) == names


def report_drift(instance: DagsterInstance, batch: str, drifted: bool, share: float) -> None:
    instance.report_runless_asset_event(
        AssetMaterialization(
            "drift_report",
            partition=batch,
            metadata={"dataset_drift": drifted, "drift_share": share, "batch": batch},
        )
    )


def evaluate_drift_sensor(instance: DagsterInstance, cursor: str | None, cooldown_hours=0.0):
    return drift_retraining_sensor(
        build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"retraining": RetrainingPolicy(cooldown_hours=cooldown_hours)},
        )
    )


def test_drift_sensor_reads_past_its_first_hundred_reports(tmp_path):
    """A long-lived instance has many drift reports: a drifted one after the first page of
    records must still be seen."""
    instance = DagsterInstance.ephemeral()
    for i in range(120):
        report_drift(instance, f"old_{i:03d}.csv", drifted=False, share=0.1)
    cursor = None
    for _ in range(3):  # a few ticks page through the old, clean reports
        result = evaluate_drift_sensor(instance, cursor)
        cursor = result.cursor if isinstance(result, SensorResult) else cursor
    report_drift(instance, "new.csv", drifted=True, share=0.7)

    result = evaluate_drift_sensor(instance, cursor)

    assert isinstance(result, SensorResult), result
    [request] = result.run_requests
    assert "new.csv" in request.tags["churn/reason"]


@op
def explode():
    raise RuntimeError("the batch file exploded")


@job
def failing_job():
    explode()


def evaluate_failure_alert(alerts: AlertWebhook):
    """Run `failing_job`, then one tick of the failure sensor on its failure; returns the run."""
    instance = DagsterInstance.ephemeral()
    result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(
        e for e in result.all_events if e.event_type == DagsterEventType.PIPELINE_FAILURE
    )
    context = build_run_status_sensor_context(
        sensor_name=run_failure_alert.name,
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"metrics": MetricsResource(deployment="test"), "alerts": alerts},
    ).for_run_failure()
    run_failure_alert(context)
    return result


def test_run_failure_alert_posts_the_failure_to_the_webhook(webhook):
    result = evaluate_failure_alert(AlertWebhook(url=webhook.url))

    [alert] = webhook.received
    assert alert["run_id"] == result.run_id
    assert "failing_job failed" in alert["text"] and result.run_id in alert["text"]


def test_run_failure_alert_without_a_webhook_sends_nothing(webhook):
    evaluate_failure_alert(AlertWebhook(url=None))
    assert webhook.received == []
