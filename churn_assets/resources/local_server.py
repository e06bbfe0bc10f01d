"""The local deployment's model server: one `churn-assets serve` process on this machine.

A rollout stops the process this resource started (its pid is in `<state_dir>/server.json`),
starts a new one pinned to the version (env CHURN_MODEL_VERSION) and waits for GET /ready. The
process outlives the Dagster step (its own session); its output goes to `<state_dir>/server.log`.
This is the server `make serve` starts too, so the two share one port: whichever started last
serves. There is no rolling update here: the old process is stopped before the new one starts.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pydantic import Field

from churn_assets.resources.model_server import ModelServerTarget, RolloutError

STATE_FILE = "server.json"
LOG_FILE = "server.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process holds the pid now
        return False
    return True


class LocalModelServer(ModelServerTarget):
    """A model server process on `host:port`, pinned to a version."""

    host: str = Field("127.0.0.1", description="Address the server binds.")
    port: int = Field(8080, ge=1, le=65535, description="Port the server listens on.")
    state_dir: str = Field(description="Folder for server.json (pid, version) and server.log.")
    command: list[str] | None = Field(
        None,
        description="The server's argv before --host/--port; default: this Python's "
        "`-m churn_assets.cli serve`.",
    )
    workers: int = Field(2, ge=1, description="Worker processes of the default command.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment (MLFLOW_TRACKING_URI, ...)."
    )
    stop_timeout_seconds: float = Field(10.0, gt=0, description="SIGTERM grace before SIGKILL.")

    def describe(self) -> str:
        return f"local server {self.host}:{self.port}"

    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _state_path(self) -> Path:
        return Path(self.state_dir) / STATE_FILE

    def _state(self) -> dict | None:
        """The process this resource started, if it is still running."""
        path = self._state_path()
        if not path.exists():
            return None
        state = json.loads(path.read_text())
        return state if _alive(int(state["pid"])) else None

    def served_version(self) -> str | None:
        state = self._state()
        return None if state is None else state.get("version")

    def roll_to(self, version: str) -> str:
        state = self._state()
        if state is not None and state.get("version") == str(version):
            return f"{self.describe()} already serves v{version} (pid {state['pid']})"
        stopped = self._stop(state)
        pid = self._start(str(version))
        return f"{stopped}started pid {pid} serving v{version} on {self.base_url()}"

    def roll_back(self, previous_version: str | None) -> str:
        stopped = self._stop(self._state())
        if previous_version is None:
            return f"{stopped}no earlier version was served, so none is started"
        pid = self._start(previous_version)
        return f"{stopped}restarted pid {pid} serving v{previous_version}"

    def stop(self) -> str:
        """Stop the server this resource started (for `make` targets and tests)."""
        return self._stop(self._state())

    def _stop(self, state: dict | None) -> str:
        if state is None:
            return ""
        pid = int(state["pid"])
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return ""
        deadline = time.monotonic() + self.stop_timeout_seconds
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        self._state_path().unlink(missing_ok=True)
        return f"stopped pid {pid} (v{state.get('version')}); "

    def _start(self, version: str) -> int:
        folder = Path(self.state_dir)
        folder.mkdir(parents=True, exist_ok=True)
        argv = list(self.command or [sys.executable, "-m", "churn_assets.cli", "serve"])
        argv += ["--host", self.host, "--port", str(self.port)]
        if self.command is None:
            argv += ["--workers", str(self.workers)]
        env = {**os.environ, **self.env, "CHURN_MODEL_VERSION": version}
        with open(folder / LOG_FILE, "ab") as log:
            process = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the step; a signal reaches its workers too
            )
        self._state_path().write_text(
            json.dumps({"pid": process.pid, "version": version, "port": self.port})
        )
        self._wait_started(process)
        return process.pid

    def _wait_started(self, process: subprocess.Popen) -> None:
        import httpx

        deadline = time.monotonic() + self.rollout_timeout_seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RolloutError(
                    f"{self.describe()} exited with code {process.returncode} before it was "
                    f"ready; last lines of {Path(self.state_dir) / LOG_FILE}:\n{self._log_tail()}"
                )
            try:
                if httpx.get(f"{self.base_url()}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RolloutError(
            f"{self.describe()} not ready after {self.rollout_timeout_seconds:g}s; last lines "
            f"of {Path(self.state_dir) / LOG_FILE}:\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 15) -> str:
        path = Path(self.state_dir) / LOG_FILE
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
