"""The real Dagster UI: `dagster-webserver` and `dagster-daemon` on a throwaway local instance.

`running_dagster_ui` starts both on the project's workspace.yaml (code location `churn_assets`,
module `churn_assets.definitions`, as `make dev` serves it) with their own DAGSTER_HOME (the
embedded SQLite instance of `churn_assets/local_dagster.yaml`, QueuedRunCoordinator included, so
runs launched through the UI are dequeued by the daemon), CHURN_HOME and a small synthetic dataset
spec, waits until the webserver answers and the code location has loaded, and yields the base URL.
Both are stopped by process group (their code servers and run workers with them).

The session fixture `dagster_ui` shares one running UI between the test modules that import it:

    from churn_assets_tests.integration.dagster_ui import dagster_ui  # noqa: F401
"""

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from churn_assets_tests.integration.services import (
    find_executable,
    free_port,
    require_service,
    wait_for_http,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = REPO_ROOT / "churn_assets"
WORKSPACE = REPO_ROOT / "workspace.yaml"
LOCATION_NAME = "churn_assets"  # as workspace.yaml (and production) name the code location
REPOSITORY_NAME = "__repository__"  # a Definitions object's repository
SYNTHETIC_ROWS = 2000
START_TIMEOUT = 240.0  # webserver start plus the code location load, on a busy 2-core machine
STOP_TIMEOUT = 10.0
LOG_TAIL = 3000

# Settings of the caller that would point the servers at anything but the throwaway homes.
_ENV_TO_CLEAR = (
    "MLFLOW_TRACKING_URI",
    "CHURN_LANDING_DIR",
    "CHURN_PUSHGATEWAY_URL",
    "CHURN_S3_BUCKET",
    "CHURN_S3_ENDPOINT_URL",
    "CHURN_S3_PREFIX",
    "CHURN_MLFLOW_ARTIFACTS",
    "DAGSTER_GRPC_HOST",
    "DAGSTER_GRPC_PORT",
)


class DagsterUIError(RuntimeError):
    """The webserver or the daemon did not come up in time (the service is unavailable)."""


class CodeLocationError(RuntimeError):
    """The code location failed to load: a defect of the project, never a reason to skip."""


def log_tails(workdir: Path, chars: int = LOG_TAIL) -> str:
    """The last `chars` characters of each server log in `workdir`, for failure messages."""
    parts = []
    for log in sorted(workdir.glob("*.log")):
        text = log.read_text(errors="replace")[-chars:].strip()
        parts.append(f"----- {log.name} (last {chars} chars) -----\n{text or 'no output'}")
    return "\n".join(parts) or f"no logs in {workdir}"


def write_small_spec(path: Path, n_rows: int = SYNTHETIC_ROWS) -> Path:
    """The packaged synthetic spec with `n_rows` rows, written to `path`."""
    spec = yaml.safe_load((PACKAGE / "datasets" / "synthetic.yaml").read_text())
    spec["source"]["synthetic"]["n_rows"] = n_rows
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def server_env(workdir: Path) -> dict[str, str]:
    """The servers' environment: a fresh DAGSTER_HOME and CHURN_HOME under `workdir`."""
    dagster_home = workdir / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PACKAGE / "local_dagster.yaml", dagster_home / "dagster.yaml")
    churn_home = workdir / "churn_home"
    churn_home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _ENV_TO_CLEAR}
    pythonpath = [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    env.update(
        DAGSTER_HOME=str(dagster_home),
        CHURN_HOME=str(churn_home),
        CHURN_DEPLOYMENT="local",
        CHURN_DATASET_SPEC=str(write_small_spec(workdir / "synthetic_small.yaml")),
        PYTHONPATH=os.pathsep.join(pythonpath),
        PYTHONUNBUFFERED="1",
    )
    return env


def graphql(base_url: str, query: str, variables: dict | None = None, timeout=60.0) -> dict:
    """POST `query` to `<base_url>/graphql`; its `data`, raising on transport or GraphQL errors."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.load(response)
    except urllib.error.HTTPError as exc:
        raise AssertionError(
            f"POST /graphql answered {exc.code}: {exc.read().decode(errors='replace')[:2000]}"
        ) from exc
    if payload.get("errors"):
        raise AssertionError(f"GraphQL errors: {json.dumps(payload['errors'], indent=1)[:3000]}")
    return payload["data"]


_LOCATION_QUERY = """
query LocationStatus {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message stack }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""


def wait_for_location(base_url: str, timeout: float, processes=()) -> None:
    """Wait until the webserver has loaded the code location; raise with its error if it failed."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise DagsterUIError("a Dagster process exited while the code location was loading")
        try:
            workspace = graphql(base_url, _LOCATION_QUERY, timeout=10.0)["workspaceOrError"]
        except (AssertionError, OSError) as exc:
            last = str(exc)
            time.sleep(1.0)
            continue
        entries = {e["name"]: e for e in workspace.get("locationEntries", [])}
        entry = entries.get(LOCATION_NAME)
        last = json.dumps(workspace)[:2000]
        if entry and entry["loadStatus"] == "LOADED":
            loaded = entry["locationOrLoadError"] or {}
            if loaded.get("__typename") == "RepositoryLocation":
                return
            raise CodeLocationError(
                f"code location {LOCATION_NAME} failed to load: "
                f"{loaded.get('message')}\n{''.join(loaded.get('stack') or [])[-3000:]}"
            )
        time.sleep(1.0)
    raise DagsterUIError(f"code location {LOCATION_NAME} not loaded after {timeout:.0f}s: {last}")


def stop_group(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the process group we started (leader `process`), SIGKILL it after `timeout`."""
    pgid = process.pid  # start_new_session=True: the child leads its own group
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        process.poll()
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()  # reap the leader so only live members keep the group alive
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass


@contextmanager
def _started(name: str, args: list[str], env: dict[str, str], workdir: Path):
    """Run `args` in its own session with output to `<workdir>/<name>.log`; stopped on exit."""
    with open(workdir / f"{name}.log", "wb") as log:
        process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=workdir,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            stop_group(process)


@contextmanager
def running_dagster_ui(workdir: Path, start_timeout: float = START_TIMEOUT) -> Iterator[str]:
    """Webserver and daemon on workspace.yaml with homes under `workdir`; yields the base URL.

    workspace.yaml loads `churn_assets.definitions` as the location `churn_assets`; a bare
    `-m churn_assets.definitions` would name it after the module instead.
    """
    webserver = find_executable("dagster-webserver")
    daemon = find_executable("dagster-daemon")
    require_service(
        webserver is not None and daemon is not None,
        "dagster-webserver / dagster-daemon not found beside the Python interpreter or on PATH; "
        "install the project (pip install -e '.[dev]')",
    )
    workdir.mkdir(parents=True, exist_ok=True)
    env = server_env(workdir)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    workspace = ["-w", str(WORKSPACE)]
    with ExitStack() as stack:
        web = stack.enter_context(
            _started(
                "webserver",
                [webserver, *workspace, "-h", "127.0.0.1", "-p", str(port)],
                env,
                workdir,
            )
        )
        started = time.monotonic()
        try:
            if not wait_for_http(f"{base_url}/server_info", start_timeout, web):
                raise DagsterUIError(
                    f"dagster-webserver did not answer {base_url}/server_info within "
                    f"{start_timeout:.0f}s (exit code {web.poll()})"
                )
            # Only now the daemon: both creating the fresh SQLite storages at once races on
            # alembic_version ("table alembic_version already exists").
            dmn = stack.enter_context(_started("daemon", [daemon, "run", *workspace], env, workdir))
            remaining = max(start_timeout - (time.monotonic() - started), 30.0)
            wait_for_location(base_url, remaining, (web, dmn))
            if dmn.poll() is not None:
                raise DagsterUIError(f"dagster-daemon exited with code {dmn.returncode}")
        except DagsterUIError as exc:
            stack.close()  # stop both first, so the logs are complete
            require_service(False, f"{exc}\n{log_tails(workdir)}")
        except CodeLocationError as exc:
            stack.close()
            pytest.fail(f"{exc}\n{log_tails(workdir)}")
        yield base_url


@dataclass(frozen=True)
class DagsterUI:
    """A running webserver + daemon: the base URL and where their logs and homes are."""

    url: str
    workdir: Path

    def logs(self, chars: int = LOG_TAIL) -> str:
        """The tails of the webserver and daemon logs, for failure messages."""
        return log_tails(self.workdir, chars)

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 60.0) -> dict:
        """The `data` of a GraphQL query against this webserver."""
        return graphql(self.url, query, variables, timeout)


_START_OUTCOME: list[BaseException] = []  # a failed start, so later modules don't retry it


@pytest.fixture(scope="session")
def dagster_ui(tmp_path_factory) -> Iterator[DagsterUI]:
    """One webserver + daemon for the test session (shared by the UI test modules)."""
    if _START_OUTCOME:
        raise _START_OUTCOME[0]
    workdir = tmp_path_factory.mktemp("dagster_ui")
    with ExitStack() as stack:
        try:
            url = stack.enter_context(running_dagster_ui(workdir))
        except BaseException as exc:  # skip or fail: pytest's outcomes are BaseExceptions
            _START_OUTCOME.append(exc)
            raise
        yield DagsterUI(url=url, workdir=workdir)
