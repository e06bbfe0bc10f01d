"""The outcomes sensor's two steps and the retraining sensor's decay trigger, tick by tick with
`build_sensor_context` (no training; materializations are reported as the runs would)."""

import json

from dagster import (
    AssetMaterialization,
    DagsterInstance,
    MetadataValue,
    SkipReason,
    build_sensor_context,
)

from churn_assets.defs.monitoring.outcome_sensors import MAX_RUNS_PER_TICK, outcomes_sensor
from churn_assets.defs.sensors import drift_retraining_sensor
from churn_assets.resources.landing import LocalLanding
from churn_assets.resources.retraining import RetrainingPolicy


def tick(instance, folder, cursor=None):
    return outcomes_sensor(
        build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"outcomes_landing": LocalLanding(folder=str(folder))},
        )
    )


def merged(instance, fingerprints: dict[str, str]) -> None:
    """A churn_outcomes materialization naming each batch's outcome fingerprint."""
    per_batch = {b: {"outcomes": 5, "fingerprint": f} for b, f in fingerprints.items()}
    instance.report_runless_asset_event(
        AssetMaterialization(
            "churn_outcomes", metadata={"batch_outcomes": MetadataValue.json(per_batch)}
        )
    )


def test_new_or_changed_outcome_files_request_one_merge_run(tmp_path):
    instance, folder = DagsterInstance.ephemeral(), tmp_path / "outcomes"
    folder.mkdir()
    (folder / "o1.csv").write_text("id,churned,observed_at\nC1,1,2026-01-01\n")
    (folder / "notes.txt").write_text("not an outcome file")
    first = tick(instance, folder)
    [request] = first.run_requests
    assert request.job_name == "outcomes_job" and request.tags["churn/outcome_files"] == "o1.csv"
    assert isinstance(tick(instance, folder, first.cursor), SkipReason)
    (folder / "o2.csv").write_text("id,churned,observed_at\nC2,0,2026-01-02\n")
    second = tick(instance, folder, first.cursor)
    [again] = second.run_requests
    assert again.run_key != request.run_key and again.tags["churn/outcome_files"] == "o2.csv"
    # A lost cursor gives the same run key, which the daemon drops: no double merge.
    assert tick(instance, folder, None).run_requests[0].run_key == again.run_key


def test_batches_whose_outcomes_changed_get_their_partition_rematerialized(tmp_path):
    instance, folder = DagsterInstance.ephemeral(), tmp_path / "none"
    merged(instance, {"b1.csv": "aaa", "b2.csv": "bbb"})
    first = tick(instance, folder)
    assert [(r.job_name, r.partition_key) for r in first.run_requests] == [
        ("realized_job", "b1.csv"),
        ("realized_job", "b2.csv"),
    ]
    assert isinstance(tick(instance, folder, first.cursor), SkipReason)
    merged(instance, {"b1.csv": "aaa", "b2.csv": "ccc"})  # late outcomes of b2 only
    second = tick(instance, folder, first.cursor)
    [late] = second.run_requests
    assert late.partition_key == "b2.csv" and late.run_key == "realized:b2.csv:ccc"
    assert json.loads(second.cursor)["batches"] == {"b1.csv": "aaa", "b2.csv": "ccc"}


def test_more_batches_than_a_tick_allows_are_spread_over_ticks(tmp_path):
    instance, folder = DagsterInstance.ephemeral(), tmp_path / "none"
    names = [f"b{i:02d}.csv" for i in range(MAX_RUNS_PER_TICK + 2)]
    merged(instance, dict.fromkeys(names, "f"))
    first = tick(instance, folder)
    second = tick(instance, folder, first.cursor)
    requested = [r.partition_key for r in first.run_requests + second.run_requests]
    assert len(first.run_requests) == MAX_RUNS_PER_TICK and sorted(requested) == names
    assert isinstance(tick(instance, folder, second.cursor), SkipReason)


def realized(instance, batch: str, decayed: bool) -> None:
    reason = "realized AUC 0.700 vs holdout 0.850: +0.150 below, more than the margin 0.050"
    instance.report_runless_asset_event(
        AssetMaterialization(
            "realized_performance",
            partition=batch,
            metadata={"batch": batch, "decayed": decayed, "reason": reason},
        )
    )


def retrain_tick(instance, cursor=None, cooldown_hours=24.0):
    return drift_retraining_sensor(
        build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"retraining": RetrainingPolicy(cooldown_hours=cooldown_hours)},
        )
    )


def test_decay_requests_retraining_with_its_reason_once_per_cooldown():
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("customer_batches", ["ok.csv", "bad.csv", "bad2.csv"])
    realized(instance, "ok.csv", decayed=False)
    quiet = retrain_tick(instance)
    assert not quiet.run_requests and "none with dataset drift or realized AUC decay" in (
        quiet.skip_reason.skip_message
    )
    realized(instance, "bad.csv", decayed=True)
    first = retrain_tick(instance, quiet.cursor)
    [request] = first.run_requests
    assert request.tags["churn/trigger"] == "realized_performance"
    assert request.tags["churn/reason"].startswith("realized AUC decay in batch bad.csv:")
    realized(instance, "bad2.csv", decayed=True)
    within = retrain_tick(instance, first.cursor)
    assert not within.run_requests and "cooldown 24.0 h" in within.skip_reason.skip_message
    assert isinstance(retrain_tick(instance, within.cursor), SkipReason)
