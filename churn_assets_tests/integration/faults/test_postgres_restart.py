"""Fault: PostgreSQL (the Dagster instance's storage) crashes and comes back under a running
dagster-daemon. The daemon keeps running, the sensor carries on from its stored cursor with no
tick requested twice or skipped, and the cron trigger (`catch_up_schedule`, what
daily_data_schedule and weekly_training_schedule are) runs the tick whose time passed during the
outage, once, after it. A Dagster ScheduleDefinition lost that tick whenever the scheduler's first
pass after the restart came after the next tick (README Reliability).

Uses a private cluster (initdb into a temporary folder on a free port), never the shared one. The
run queue launches nothing (max_concurrent_runs: 0): the runs the ticks create are the record.
"""

import os
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from dagster import DagsterInstance

from churn_assets.defs.catch_up import TICK_TAG
from churn_assets_tests.integration.faults.private_postgres import PrivatePostgres
from churn_assets_tests.integration.services import find_executable, require_service

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[3]
DEFS = "churn_assets_tests.integration.faults.ticking_defs"


def _dagster_yaml(url: str) -> str:
    return f"""\
telemetry:
  enabled: false
storage:
  postgres:
    postgres_url: "{url}"
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 0
"""


def _runs(home: Path) -> list:
    """Every run's record (the run and when it was created)."""
    with DagsterInstance.from_config(str(home)) as instance:
        return list(instance.get_run_records())


def _keys(runs: list, prefix: str) -> list[str]:
    return [
        r.dagster_run.tags["dagster/run_key"]
        for r in runs
        if r.dagster_run.tags.get("dagster/run_key", "").startswith(prefix)
    ]


def _ticks(runs: list) -> list[str]:
    """The cron trigger's runs, as the tick each ran for (HH:MM)."""
    return [r.dagster_run.tags[TICK_TAG][11:16] for r in runs if TICK_TAG in r.dagster_run.tags]


def _wait(what: str, predicate, timeout: float, daemon: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert daemon.poll() is None, f"dagster-daemon exited: {log.read_text()[-3000:]}"
        try:
            value = predicate()
        except Exception:  # the instance is still coming back up
            value = None
        if value:
            return value
        time.sleep(1)
    lines = log.read_text(errors="replace").splitlines()
    scheduler = [line for line in lines if "SchedulerDaemon" in line and "INFO:" not in line]
    pytest.fail(
        f"{what} within {timeout:.0f}s; scheduler log: {scheduler[-30:]}; daemon log tail: "
        f"{lines[-20:]}"
    )


def _next_tick(now: datetime) -> datetime:
    base = now.replace(second=0, microsecond=0)
    return base + timedelta(minutes=1)


@pytest.fixture(scope="module")
def outage(tmp_path_factory) -> dict:
    """Run the daemon, crash PostgreSQL across a schedule tick, bring it back; what was recorded:
    {"runs": every run's tags after recovery, "missed": the HH:MM tick passed while down}."""
    executable = find_executable("dagster-daemon")
    require_service(executable is not None, "dagster-daemon is not beside Python or on PATH")
    tmp_path = tmp_path_factory.mktemp("pg_restart")
    pg = PrivatePostgres()
    pg.start()
    daemon = None
    try:
        pg.create_database("dagster")
        home = tmp_path / "pg_dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text(_dagster_yaml(pg.url("dagster")))
        workspace = tmp_path / "workspace.yaml"
        workspace.write_text(f"load_from:\n  - python_module: {DEFS}\n")
        log = tmp_path / "daemon.log"
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        }
        with open(log, "wb") as out:
            daemon = subprocess.Popen(
                [executable, "run", "-w", str(workspace)],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait("three sensor ticks", lambda: len(_keys(_runs(home), "tick-")) >= 3, 300, daemon, log)
        _wait("a tick of the cron trigger", lambda: _ticks(_runs(home)), 200, daemon, log)

        # The fault: the database crashes and stays down across a tick of the schedule.
        pg.stop("immediate")
        missed_tick = _next_tick(datetime.now(timezone.utc))
        while datetime.now(timezone.utc) < missed_tick + timedelta(seconds=10):
            assert daemon.poll() is None, f"dagster-daemon died: {log.read_text()[-3000:]}"
            time.sleep(1)
        pg.start()
        back = time.time()
        before = len(_keys(_runs(home), "tick-"))
        _wait(
            "three more sensor ticks after the restart",
            lambda: len(_keys(_runs(home), "tick-")) >= before + 3,
            300,
            daemon,
            log,
        )
        # Give the trigger until the tick after the missed one has run.
        missed = missed_tick.strftime("%H:%M")
        _wait(
            "the trigger's first tick after the missed one",
            lambda: any(t > missed for t in _ticks(_runs(home))),
            200,
            daemon,
            log,
        )
        assert daemon.poll() is None, f"dagster-daemon exited: {log.read_text()[-3000:]}"
        return {"runs": _runs(home), "missed": missed, "back": back}
    finally:
        if daemon is not None and daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=30)
        pg.close()


def test_sensor_ticks_survive_a_postgres_crash_none_twice_none_lost(outage):
    ticks = _keys(outage["runs"], "tick-")
    assert len(ticks) == len(set(ticks)), "a sensor tick was run twice"
    numbers = sorted(int(k.removeprefix("tick-")) for k in ticks)
    assert numbers == list(range(1, len(numbers) + 1)), "a sensor tick was lost"


def test_trigger_ticks_are_never_run_twice(outage):
    ticks = _ticks(outage["runs"])
    assert len(ticks) == len(set(ticks)), f"a tick was run twice: {ticks}"


def test_the_trigger_resumes_after_the_outage(outage):
    assert any(tick > outage["missed"] for tick in _ticks(outage["runs"]))


def test_the_tick_missed_during_the_outage_runs_once_after_and_none_is_skipped(outage):
    runs = [r for r in outage["runs"] if TICK_TAG in r.dagster_run.tags]
    missed = [r for r in runs if r.dagster_run.tags[TICK_TAG][11:16] == outage["missed"]]
    assert len(missed) == 1, f"the {outage['missed']} tick has {len(missed)} runs"
    assert missed[0].create_timestamp.timestamp() >= outage["back"]
    # Every one-minute tick from the first to the last has its run: no gap.
    ticks = sorted(datetime.fromisoformat(r.dagster_run.tags[TICK_TAG]) for r in runs)
    gaps = {b - a for a, b in zip(ticks, ticks[1:], strict=False)}
    assert gaps <= {timedelta(minutes=1)}, f"ticks skipped: {ticks}"


def test_no_run_is_left_created_but_never_submitted(outage):
    # A run created in the tick the database went away in must still be submitted (QUEUED here:
    # the queue launches nothing), by the resumed tick.
    stuck = [
        r.dagster_run.tags.get("dagster/run_key")
        for r in outage["runs"]
        if r.dagster_run.status.value == "NOT_STARTED"
    ]
    assert not stuck, f"runs created but never submitted: {stuck}"
