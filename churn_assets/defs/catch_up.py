"""Cron triggers that lose no tick when the instance database is down at the tick's time.

Dagster 1.13's scheduler runs only the newest tick it finds due, and never catches up a schedule
(its snapshot has no partition set, even for `build_schedule_from_partitioned_job`). When the
instance's PostgreSQL was down at a tick and the scheduler's next successful pass came after the
following tick, the missed tick was skipped (README Reliability); a tick whose run was created
but not submitted when the database went away stayed NOT_STARTED for good.

A trigger here is a sensor with a cron string: its cursor (in the instance database) is the last
tick it handled. Each evaluation requests one run per tick that passed since then (the newest
MAX_CATCHUP, as Dagster's partitioned catch-up does), keyed by the tick: an evaluation replayed
after the database went away mid-tick (runs created, cursor not yet written) asks for the same
keys, which Dagster's run-key check turns into nothing (or into launching a run it created but
did not submit). So no tick is lost and none runs twice, whatever the outage's length. Like a
schedule, a trigger runs no tick that passed before it was first started.
"""

from collections import deque
from datetime import datetime, timezone

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._utils.schedules import cron_string_iterator, get_latest_completed_cron_tick

TICK_TAG = "churn/scheduled_tick"
MAX_CATCHUP = 5  # runs for ticks missed in a row; older ones are logged and skipped


def due_ticks(
    cron: str, cursor: str | None, now: datetime, limit: int = MAX_CATCHUP, tz: str = "UTC"
) -> tuple[list[datetime], int]:
    """The ticks of `cron` after `cursor` (an ISO time) up to `now`: the newest `limit`, oldest
    first, and how many older ones are left out. Without a cursor, none: a new trigger starts
    from now."""
    if cursor is None:
        return [], 0
    latest = get_latest_completed_cron_tick(cron, now, tz)
    start = datetime.fromisoformat(cursor).timestamp() + 1
    ticks: deque[datetime] = deque(maxlen=limit)
    total = 0
    for tick in cron_string_iterator(start, cron, tz):
        if tick > latest:
            break
        ticks.append(tick)
        total += 1
    return list(ticks), total - len(ticks)


def catch_up_schedule(
    name: str,
    job,
    cron_schedule: str,
    description: str,
    interval_seconds: int = 60,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
) -> SensorDefinition:
    """A trigger running `job` once for every passed tick of `cron_schedule` (UTC), also for
    ticks that passed while the instance was down (see the module docstring)."""

    @sensor(
        name=name,
        job=job,
        minimum_interval_seconds=interval_seconds,
        default_status=default_status,
        description=f"{description} (cron '{cron_schedule}' UTC; a tick missed while the "
        "instance was down runs once when it is back)",
    )
    def _trigger(context: SensorEvaluationContext):
        now = datetime.now(timezone.utc)
        if context.cursor is None:
            first = get_latest_completed_cron_tick(cron_schedule, now, "UTC")
            return SensorResult(
                skip_reason=SkipReason(f"started; the first tick after {first:%Y-%m-%d %H:%M}"),
                cursor=first.isoformat(),
            )
        ticks, left_out = due_ticks(cron_schedule, context.cursor, now)
        if not ticks:
            return SkipReason(f"no tick of '{cron_schedule}' since {context.cursor}")
        if left_out:
            context.log.warning(
                f"{name}: {left_out} older missed ticks skipped (at most "
                f"{MAX_CATCHUP} run after an outage)"
            )
        if len(ticks) > 1:
            context.log.warning(f"{name}: {len(ticks)} ticks passed unhandled; one run each")
        requests = [
            RunRequest(run_key=f"{name}:{tick.isoformat()}", tags={TICK_TAG: tick.isoformat()})
            for tick in ticks
        ]
        return SensorResult(run_requests=requests, cursor=ticks[-1].isoformat())

    return _trigger
