"""Cron triggers that lose no tick (defs/catch_up.py): which ticks are due, and what one
evaluation requests. The daemon-level fault (PostgreSQL down across a tick) is
churn_assets_tests/integration/faults/test_postgres_restart.py."""

from datetime import datetime, timedelta, timezone

from dagster import DagsterInstance, build_sensor_context

from churn_assets.defs.catch_up import MAX_CATCHUP, TICK_TAG, due_ticks
from churn_assets.defs.sensors import daily_data_schedule, weekly_training_schedule

DAILY = "0 2 * * *"


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=timezone.utc)


def test_no_cursor_means_no_tick_a_new_trigger_starts_from_now():
    assert due_ticks(DAILY, None, _at(5, 3)) == ([], 0)


def test_only_ticks_after_the_cursor_and_not_after_now_are_due():
    cursor = _at(2, 2).isoformat()
    assert due_ticks(DAILY, cursor, _at(2, 23)) == ([], 0)
    assert due_ticks(DAILY, cursor, _at(3, 1, 59)) == ([], 0)
    assert due_ticks(DAILY, cursor, _at(3, 2)) == ([_at(3, 2)], 0)
    assert due_ticks(DAILY, cursor, _at(5, 7)) == ([_at(3, 2), _at(4, 2), _at(5, 2)], 0)


def test_a_long_gap_runs_only_the_newest_ticks_and_says_how_many_are_left_out():
    ticks, left_out = due_ticks("0 * * * *", _at(1, 0).isoformat(), _at(2, 0))
    assert len(ticks) == MAX_CATCHUP and ticks[-1] == _at(2, 0)
    assert ticks[0] == _at(1, 24 - MAX_CATCHUP + 1) and left_out == 24 - MAX_CATCHUP


def _evaluate(trigger, cursor):
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, cursor=cursor)
        return trigger.evaluate_tick(context)


def test_a_first_evaluation_only_remembers_the_latest_tick():
    result = _evaluate(daily_data_schedule, None)
    assert result.run_requests == [] and "started" in result.skip_message
    latest = datetime.fromisoformat(result.cursor)
    now = datetime.now(timezone.utc)
    assert latest <= now < latest + timedelta(days=1) and (latest.hour, latest.minute) == (2, 0)


def test_ticks_missed_in_a_row_give_one_run_each_keyed_by_tick_and_the_cursor_moves_on():
    now = datetime.now(timezone.utc)
    three_days_ago = (now - timedelta(days=3)).replace(hour=2, minute=0, second=0, microsecond=0)
    result = _evaluate(daily_data_schedule, three_days_ago.isoformat())
    ticks = [datetime.fromisoformat(r.tags[TICK_TAG]) for r in result.run_requests]
    assert len(ticks) in (2, 3)  # 3 once today's 02:00 has passed
    assert [t - three_days_ago for t in ticks] == [timedelta(days=n + 1) for n in range(len(ticks))]
    keys = [r.run_key for r in result.run_requests]
    assert keys == [f"daily_data_schedule:{t.isoformat()}" for t in ticks]
    assert result.cursor == ticks[-1].isoformat()
    # Replayed from the same cursor (the database went away before the cursor was written):
    # the same run keys, so Dagster's run-key check launches nothing twice.
    replay = _evaluate(daily_data_schedule, three_days_ago.isoformat())
    assert [r.run_key for r in replay.run_requests] == keys
    # Evaluated again from its own cursor: nothing more.
    again = _evaluate(daily_data_schedule, result.cursor)
    assert again.run_requests == [] and "no tick" in again.skip_message


def test_the_triggers_run_the_data_and_training_jobs_and_start_stopped():
    assert daily_data_schedule.job_name == "data_job"
    assert weekly_training_schedule.job_name == "training_job"
    for trigger in (daily_data_schedule, weekly_training_schedule):
        assert trigger.default_status.value == "STOPPED"
