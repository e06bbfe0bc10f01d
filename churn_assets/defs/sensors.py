"""Sensors and schedules: new batch files, drift-triggered retraining, failure alerts."""

import json
import time

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)

from churn_assets.defs.catch_up import catch_up_schedule
from churn_assets.defs.jobs import data_job, monitoring_job, training_job
from churn_assets.defs.monitoring.batches import batches
from churn_assets.defs.monitoring.outcome_sensors import decayed_batches
from churn_assets.resources.alerts import AlertWebhook
from churn_assets.resources.landing import LandingResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.retraining import RetrainingPolicy

MAX_RUNS_PER_TICK = 10


@sensor(
    job=monitoring_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.STOPPED,
    description="One monitoring run per new or changed file in the landing location.",
)
def landing_sensor(context: SensorEvaluationContext, landing: LandingResource):
    """Cursor: JSON {file name: version stamp} of files already requested. A file is requested
    again only when its stamp changes; the run key (name + stamp) keeps a daemon restart from
    double-processing; at most MAX_RUNS_PER_TICK runs per tick, the rest on the next tick."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    found = landing.list_batches()
    new = [name for name, stamp in sorted(found.items()) if seen.get(name) != stamp]
    if not new:
        return SkipReason(f"no new batch files ({len(found)} known)")
    picked = new[:MAX_RUNS_PER_TICK]
    for name in picked:
        seen[name] = found[name]
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"{name}:{found[name]}",
                partition_key=name,
                tags={"churn/batch": name},
            )
            for name in picked
        ],
        dynamic_partitions_requests=[
            batches.build_add_request([n for n in picked if not _known(context, n)])
        ],
        cursor=json.dumps(seen, sort_keys=True),
    )


def _known(context: SensorEvaluationContext, name: str) -> bool:
    return context.instance.has_dynamic_partition(batches.name, name)


@sensor(
    job=training_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description="Retrain on dataset drift or realized AUC decay, at most once per cooldown.",
)
def drift_retraining_sensor(context: SensorEvaluationContext, retraining: RetrainingPolicy):
    """Reads new `drift_report` and `realized_performance` materializations after the cursor's
    event ids. Dataset drift or a decayed realized AUC requests `training_job` (which passes the
    same checks and promotion gate) unless a retrain was requested within the policy's
    cooldown; `churn/trigger` says which. Cursor: JSON {"event_id": last drift report seen,
    "realized_event_id": last realized performance seen, "last_trigger": unix time}."""
    state = json.loads(context.cursor) if context.cursor else {"event_id": 0, "last_trigger": 0}
    # Page from the cursor's event id: reading the first 100 records again would never reach
    # reports after the hundredth.
    fresh = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("drift_report"), after_storage_id=state["event_id"]),
        limit=100,
        ascending=True,
    ).records
    seen_realized = state.get("realized_event_id", 0)
    state["realized_event_id"], decays = decayed_batches(context.instance, seen_realized)
    if not fresh and state["realized_event_id"] == seen_realized:
        return SkipReason("no new drift reports")
    state["event_id"] = max([state["event_id"], *(r.storage_id for r in fresh)])
    triggers = [
        (r.storage_id, "drift", _drift_reason(r))
        for r in fresh
        if r.asset_materialization
        and r.asset_materialization.metadata.get("dataset_drift")
        and r.asset_materialization.metadata["dataset_drift"].value
    ] + [(storage_id, "realized_performance", reason) for storage_id, reason in decays]
    if not triggers:
        return SensorResult(
            skip_reason="new reports, none with dataset drift or realized AUC decay",
            cursor=json.dumps(state),
        )
    now = time.time()
    since = now - state["last_trigger"]
    if since < retraining.cooldown_seconds:
        return SensorResult(
            skip_reason=f"{triggers[-1][2]}, but retraining ran {since / 3600:.1f} h ago "
            f"(cooldown {retraining.cooldown_hours} h)",
            cursor=json.dumps(state),
        )
    storage_id, trigger, reason = max(triggers)
    state["last_trigger"] = now
    prefix = "drift" if trigger == "drift" else "realized"
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"{prefix}-retrain-{storage_id}",
                tags={"churn/trigger": trigger, "churn/reason": reason[:1000]},
            )
        ],
        cursor=json.dumps(state),
    )


def _drift_reason(record) -> str:
    md = record.asset_materialization.metadata
    batch = md["batch"].value if "batch" in md else record.partition_key
    return f"dataset drift in batch {batch}: share {md['drift_share'].value:.2f}"


def _record_run(context, metrics: MetricsResource, status: str) -> None:
    run = context.dagster_run
    stats = context.instance.get_run_stats(run.run_id)
    duration = (stats.end_time or time.time()) - (stats.start_time or time.time())
    metrics.record_run(run.job_name, status, duration)


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    default_status=DefaultSensorStatus.STOPPED,
    description="Push each successful run's duration to the Pushgateway (production).",
)
def run_success_metrics(context: RunStatusSensorContext, metrics: MetricsResource):
    _record_run(context, metrics, "success")


@run_failure_sensor(
    default_status=DefaultSensorStatus.STOPPED,
    description="Log every failed run, push it as a metric, POST it to the alert webhook.",
)
def run_failure_alert(
    context: RunFailureSensorContext, metrics: MetricsResource, alerts: AlertWebhook
):
    """Logs the failure, records it as a metric and sends it through `alerts` (nothing is sent
    when no webhook is configured). Raises AlertError when the webhook refuses it."""
    run = context.dagster_run
    message = f"run {run.run_id} of {run.job_name} failed: {context.failure_event.message}"
    context.log.error(message)
    _record_run(context, metrics, "failure")
    alerts.send(message, run_id=run.run_id)


# Cron triggers, not ScheduleDefinitions: Dagster's scheduler could skip a tick that passed while
# the instance database was down (catch_up.py).
daily_data_schedule = catch_up_schedule(
    "daily_data_schedule",
    data_job,
    "0 2 * * *",
    "Daily: reload, validate and split the training table.",
)
weekly_training_schedule = catch_up_schedule(
    "weekly_training_schedule",
    training_job,
    "0 3 * * 1",
    "Weekly: retrain, evaluate and run the promotion gate.",
)
