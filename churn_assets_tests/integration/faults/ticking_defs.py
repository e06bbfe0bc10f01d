"""A tiny code location for the PostgreSQL-restart test: a sensor that counts its ticks and a
schedule every minute, each requesting a run of a no-op job keyed by its tick."""

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    SensorResult,
    job,
    op,
    schedule,
    sensor,
)


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


@schedule(job=tick_job, cron_schedule="*/2 * * * *", default_status=DefaultScheduleStatus.RUNNING)
def every_two_minutes(context):
    return RunRequest(run_key=context.scheduled_execution_time.strftime("%H:%M"))


defs = Definitions(jobs=[tick_job], sensors=[counting_sensor], schedules=[every_two_minutes])
