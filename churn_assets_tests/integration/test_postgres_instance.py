"""A Dagster instance on a real PostgreSQL: runs, event logs and instigator state live there and
survive restarting the webserver and the daemon."""

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, Definitions
from dagster import load_assets_from_modules as load_assets

from churn_assets.defs import features, ingestion, validation
from churn_assets.defs.jobs import data_job
from churn_assets.defs.sensors import daily_data_schedule, drift_retraining_sensor
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.parquet_io import LocalParquetIOManager
from churn_assets_tests.integration.postgres import PostgresDatabase, postgres_database
from churn_assets_tests.integration.services import (
    find_executable,
    free_port,
    require_service,
    wait_for_http,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD_ENV = "CHURN_TEST_DAGSTER_PG_PASSWORD"  # dagster.yaml reads the password from it
LOCATION = "churn_assets"
REPOSITORY = "__repository__"
SENSOR = drift_retraining_sensor.name
SCHEDULE = daily_data_schedule.name  # a cron trigger, which is a sensor (defs/catch_up.py)
CURSOR = json.dumps({"event_id": 10**12, "last_trigger": 0})  # past every event: ticks skip
STARTUP_SECONDS = 180  # loading the code location imports sklearn, xgboost, mlflow, evidently...
DATA_ASSETS = {"raw_dataset", "validated_dataset", "quarantined_rows", "feature_spec", "features"}


@dataclass(frozen=True)
class PgHome:
    dagster_home: Path
    churn_home: Path
    db: PostgresDatabase


def _dagster_yaml(db: PostgresDatabase) -> str:
    return f"""\
telemetry:
  enabled: false
storage:
  postgres:
    postgres_db:
      username: {db.user}
      password:
        env: {PASSWORD_ENV}
      hostname: {db.host}
      db_name: {db.db}
      port: {db.port}
"""


@pytest.fixture(scope="module")
def pg_home(tmp_path_factory) -> Iterator[PgHome]:
    """A DAGSTER_HOME whose dagster.yaml stores everything in a fresh PostgreSQL database."""
    root = tmp_path_factory.mktemp("pg_instance")
    with postgres_database("churn_dagster") as db, pytest.MonkeyPatch.context() as mp:
        mp.setenv(PASSWORD_ENV, db.password)
        home = PgHome(root / "dagster_home", root / "churn_home", db)
        home.dagster_home.mkdir()
        (home.dagster_home / "dagster.yaml").write_text(_dagster_yaml(db))
        yield home


@pytest.fixture(scope="module")
def data_run_id(pg_home: PgHome) -> str:
    """The id of a successful `data_job` run executed against the PostgreSQL instance."""
    defs = Definitions(
        assets=load_assets([ingestion, validation, features]),
        jobs=[data_job],
        resources={
            "io_manager": LocalParquetIOManager(base_dir=str(pg_home.churn_home / "assets")),
            "dataset": DatasetResource(),
            "metrics": MetricsResource(deployment="test"),
        },
    )
    with DagsterInstance.from_config(str(pg_home.dagster_home)) as instance:
        result = defs.resolve_job_def("data_job").execute_in_process(
            instance=instance,
            run_config={"resources": {"dataset": {"config": {"n_rows": 2000}}}},
        )
    assert result.success
    return result.run_id


def _sql(db: PostgresDatabase, query: str, *params) -> list[tuple]:
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()
    finally:
        conn.close()


def test_run_events_and_materializations_are_in_postgres(pg_home, data_run_id, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(pg_home.dagster_home))
    # Read back through a new instance built from DAGSTER_HOME (env-resolved password included).
    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        run = instance.get_run_by_id(data_run_id)
        assert run is not None and run.job_name == "data_job"
        assert run.status == DagsterRunStatus.SUCCESS
        events = instance.all_logs(data_run_id)
        assert any(
            e.dagster_event and e.dagster_event.event_type == DagsterEventType.RUN_SUCCESS
            for e in events
        )
        for name in DATA_ASSETS:
            [record] = instance.fetch_materializations(AssetKey(name), limit=1).records
            assert record.run_id == data_run_id, name
        rows = instance.fetch_materializations(AssetKey("raw_dataset"), limit=1).records[0]
        assert rows.asset_materialization.metadata["dagster/row_count"].value == 2000

    # And straight from the database: the rows are in PostgreSQL, not in a local SQLite file.
    db = pg_home.db
    assert _sql(db, "SELECT status FROM runs WHERE run_id = %s", data_run_id) == [("SUCCESS",)]
    [(n_events,)] = _sql(db, "SELECT count(*) FROM event_logs WHERE run_id = %s", data_run_id)
    assert n_events == len(events)
    materialized = _sql(
        db,
        "SELECT DISTINCT asset_key FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
        data_run_id,
        "ASSET_MATERIALIZATION",
    )
    assert {AssetKey.from_db_string(key).to_user_string() for (key,) in materialized} == DATA_ASSETS
    assert not list(pg_home.dagster_home.glob("**/*.db"))  # no SQLite storage was created


# --- the webserver and daemon ----------------------------------------------------------------


def _start(args: list[str], pg_home: PgHome, log: Path) -> subprocess.Popen:
    """Start a Dagster service in its own process group, logging to a file."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(pg_home.dagster_home),
        "CHURN_HOME": str(pg_home.churn_home),
        "CHURN_DEPLOYMENT": "local",
        PASSWORD_ENV: pg_home.db.password,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CHURN_PUSHGATEWAY_URL", None)
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            cwd=pg_home.dagster_home.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the code servers it spawns stop with it
        )


def _stop(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM the process group we started (its pid is the group id), then SIGKILL it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=timeout)
            # The leader is gone; reap any straggler of its group too.
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            break
        except subprocess.TimeoutExpired:
            continue
        break
    if process.poll() is None:
        process.wait(timeout=timeout)


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "no log"


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload["errors"]
    return payload["data"]


WORKSPACE_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
SENSOR_SELECTOR = {
    "repositoryLocationName": LOCATION,
    "repositoryName": REPOSITORY,
    "sensorName": SENSOR,
}
SCHEDULE_SELECTOR = {
    "repositoryLocationName": LOCATION,
    "repositoryName": REPOSITORY,
    "sensorName": SCHEDULE,
}
SET_CURSOR = """
mutation($s: SensorSelector!, $c: String) { setSensorCursor(sensorSelector: $s, cursor: $c) {
    __typename ... on PythonError { message } } }
"""
START_SENSOR = """
mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) {
    __typename ... on PythonError { message } } }
"""
STATE_QUERY = """
query($run: ID!, $sensor: SensorSelector!, $schedule: SensorSelector!) {
  runsOrError { ... on Runs { results { runId status jobName } } }
  logsForRun(runId: $run) { ... on EventConnection { events { __typename } } }
  sensorOrError(sensorSelector: $sensor) { __typename ... on Sensor { sensorState {
      status typeSpecificData { ... on SensorData { lastCursor } } } } }
  trigger: sensorOrError(sensorSelector: $schedule) { __typename ... on Sensor {
      sensorState { status } } }
}
"""


def _wait_for_location(url: str, webserver: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and webserver.poll() is None:
        entries = _graphql(url, WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
        entry = next((e for e in entries if e["name"] == LOCATION), None)
        if entry and entry["loadStatus"] == "LOADED":
            assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
            return
        time.sleep(1)
    pytest.fail(f"code location {LOCATION} did not load in the webserver: {_tail(log)}")


def _wait_for_daemon(pg_home: PgHome, since: float, daemon: subprocess.Popen, log: Path) -> None:
    """Until the sensor and scheduler daemons have written a heartbeat after `since`."""
    deadline = time.monotonic() + STARTUP_SECONDS
    with DagsterInstance.from_config(str(pg_home.dagster_home)) as instance:
        while time.monotonic() < deadline and daemon.poll() is None:
            beats = instance.get_daemon_heartbeats()
            if all(t in beats and beats[t].timestamp > since for t in ("SENSOR", "SCHEDULER")):
                return
            time.sleep(1)
    pytest.fail(f"dagster-daemon wrote no fresh heartbeat (exit {daemon.poll()}): {_tail(log)}")


def _executable(name: str) -> str:
    found = find_executable(name)
    require_service(found is not None, f"{name} not found beside the Python interpreter or on PATH")
    return found


def _start_code_server(pg_home: PgHome, logs: Path, started: list) -> Path:
    """One gRPC code server for the location, shared by both webserver and daemon generations
    (as a user-code deployment is in production); returns the workspace.yaml pointing at it."""
    from dagster._grpc.client import DagsterGrpcClient

    port = free_port()
    log = logs / "code_server.log"
    server = _start(
        [
            _executable("dagster"),
            *("api", "grpc", "--module-name", "churn_assets.definitions"),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        pg_home,
        log,
    )
    started.append(server)
    client = DagsterGrpcClient(host="127.0.0.1", port=port)
    deadline = time.monotonic() + STARTUP_SECONDS
    while server.poll() is None and time.monotonic() < deadline:
        try:
            client.ping("ready")
            break
        except Exception:  # DagsterUserCodeUnreachableError until it serves
            time.sleep(0.5)
    else:
        pytest.fail(f"the code server did not serve (exit {server.poll()}): {_tail(log)}")
    workspace = logs / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        "  - grpc_server:\n"
        "      host: 127.0.0.1\n"
        f"      port: {port}\n"
        f"      location_name: {LOCATION}\n"
    )
    return workspace


def _start_services(pg_home: PgHome, port: int, workspace: Path, started: list) -> str:
    """Start the webserver and the daemon; the webserver's URL once both are up."""
    logs = workspace.parent
    since = time.time()
    url = f"http://127.0.0.1:{port}"
    web_log, daemon_log = logs / "webserver.log", logs / "daemon.log"
    webserver = _start(
        [
            _executable("dagster-webserver"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(workspace),
        ],
        pg_home,
        web_log,
    )
    started.append(webserver)
    daemon = _start(
        [_executable("dagster-daemon"), "run", "-w", str(workspace)], pg_home, daemon_log
    )
    started.append(daemon)
    if not wait_for_http(f"{url}/server_info", STARTUP_SECONDS, webserver):
        pytest.fail(f"dagster-webserver did not answer (exit {webserver.poll()}): {_tail(web_log)}")
    _wait_for_location(url, webserver, web_log)
    _wait_for_daemon(pg_home, since, daemon, daemon_log)
    return url


def _wait_for_sensor_tick(pg_home: PgHome, timeout: float = 90.0) -> list:
    """The sensor's finished ticks, once the daemon has made at least one."""
    deadline = time.monotonic() + timeout
    with DagsterInstance.from_config(str(pg_home.dagster_home)) as instance:
        state = next(s for s in instance.all_instigator_state() if s.name == SENSOR)
        while time.monotonic() < deadline:
            ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=20)
            done = [t for t in ticks if t.status.value != "STARTED"]
            if done:
                return done
            time.sleep(1)
    pytest.fail(f"the daemon did not tick {SENSOR} within {timeout:.0f}s")


def _stop_all(started: list) -> None:
    while started:
        _stop(started.pop())


def _state(url: str, run_id: str) -> dict:
    data = _graphql(
        url, STATE_QUERY, {"run": run_id, "sensor": SENSOR_SELECTOR, "schedule": SCHEDULE_SELECTOR}
    )
    sensor = data["sensorOrError"]["sensorState"]
    return {
        "runs": {r["runId"]: (r["jobName"], r["status"]) for r in data["runsOrError"]["results"]},
        "events": [e["__typename"] for e in data["logsForRun"]["events"]],
        "sensor": (sensor["status"], sensor["typeSpecificData"]["lastCursor"]),
        "schedule": data["trigger"]["sensorState"]["status"],
    }


def test_state_survives_webserver_and_daemon_restart(pg_home, data_run_id, tmp_path):
    port = free_port()
    code_server: list[subprocess.Popen] = []
    services: list[subprocess.Popen] = []
    try:
        workspace = _start_code_server(pg_home, tmp_path, code_server)
        url = _start_services(pg_home, port, workspace, services)
        for mutation, variables, expected in (
            (SET_CURSOR, {"s": SENSOR_SELECTOR, "c": CURSOR}, "Sensor"),
            (START_SENSOR, {"s": SENSOR_SELECTOR}, "Sensor"),
            (START_SENSOR, {"s": SCHEDULE_SELECTOR}, "Sensor"),
        ):
            [result] = _graphql(url, mutation, variables).values()
            assert result["__typename"] == expected, result
        before = _state(url, data_run_id)
        assert before["runs"][data_run_id] == ("data_job", "SUCCESS")
        assert "RunSuccessEvent" in before["events"]
        assert before["sensor"] == ("RUNNING", CURSOR)
        assert before["schedule"] == "RUNNING"

        _stop_all(services)  # webserver and daemon, by their pid (group): SIGTERM then SIGKILL
        assert wait_for_http(f"{url}/server_info", 0.5) is False

        url = _start_services(pg_home, port, workspace, services)
        ticks = _wait_for_sensor_tick(pg_home)
        after = _state(url, data_run_id)
        assert after["runs"] == before["runs"]
        assert after["events"] == before["events"]
        # The daemon evaluated the sensor from the stored cursor (past every event): it skipped
        # and the cursor stands.
        assert {t.status.value for t in ticks} == {"SKIPPED"}, [
            t.error.to_string() if t.error else t.status.value for t in ticks
        ]
        assert after["sensor"] == ("RUNNING", CURSOR)
        assert after["schedule"] == "RUNNING"
    finally:
        _stop_all(services)
        _stop_all(code_server)

    # A fresh instance object reads the same state from PostgreSQL with no server running.
    with DagsterInstance.from_config(str(pg_home.dagster_home)) as instance:
        assert instance.get_run_by_id(data_run_id).status == DagsterRunStatus.SUCCESS
        states = {s.name: s for s in instance.all_instigator_state()}
        assert states[SENSOR].is_running and states[SENSOR].instigator_data.cursor == CURSOR
        assert states[SCHEDULE].is_running
