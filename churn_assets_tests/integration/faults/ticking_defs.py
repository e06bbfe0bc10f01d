"""A tiny code location for the PostgreSQL-restart test: a sensor that counts its ticks and a cron
trigger every minute (the project's own `catch_up_schedule`, as daily_data_schedule uses),
each requesting a run of a no-op job keyed by its tick."""

from dagster import (
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    SensorResult,
    job,
    op,
    sensor,
)

from churn_assets.defs.catch_up import catch_up_schedule


@op
def noop() -> None:
    """Never runs: the test's run queue launches nothing (max_concurrent_runs: 0)."""


@job
def tick_job():
    noop()


@sensor(job=tick_job, minimum_interval_seconds=1, default_status=DefaultSensorStatus.RUNNING)
def counting_sensor(context):
    """Tick n requests run `tick-n` and stores n as the cursor."""
    n = int(context.cursor or 0) + 1
    return SensorResult(run_requests=[RunRequest(run_key=f"tick-{n}")], cursor=str(n))


every_minute = catch_up_schedule(
    "every_minute",
    tick_job,
    "* * * * *",
    "A tick every minute",
    interval_seconds=1,
    default_status=DefaultSensorStatus.RUNNING,
)


defs = Definitions(jobs=[tick_job], sensors=[counting_sensor, every_minute])
