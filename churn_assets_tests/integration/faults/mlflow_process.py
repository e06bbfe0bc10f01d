"""A real `mlflow server` we can kill (SIGKILL, as an OOM-killed pod) and start again on the same
port with the same store: sqlite backend, artifacts proxied into a local folder."""

import os
import signal
import subprocess
import tempfile
from pathlib import Path

from churn_assets_tests.integration.services import (
    find_executable,
    free_port,
    require_service,
    wait_for_http,
)


class MlflowServerProcess:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()

    def start(self, timeout: float = 180) -> None:
        executable = find_executable("mlflow")
        require_service(executable is not None, "the mlflow CLI is not beside Python or on PATH")
        self.process = subprocess.Popen(
            [
                executable,
                "server",
                *("--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}"),
                *("--artifacts-destination", str(self.folder / "artifacts")),
                *("--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers are killed with it
        )
        if not wait_for_http(f"{self.url}/health", timeout, self.process):
            self._log.seek(0)
            output = self._log.read().decode(errors="replace")[-3000:]
            self.kill()
            require_service(False, f"mlflow server did not answer at {self.url}: {output}")

    def kill(self) -> None:
        """SIGKILL the server's process group (no graceful shutdown)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)

    def close(self) -> None:
        self.kill()
        self._log.close()
