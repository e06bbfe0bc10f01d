"""Start and stop the real services the integration tests talk to.

A service that cannot be started here skips its tests with the reason, unless CI asks for every
service (`CHURN_REQUIRE_SERVICES=1`), in which case the same reason fails them.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REQUIRE_SERVICES_ENV = "CHURN_REQUIRE_SERVICES"


def services_required() -> bool:
    """True when CI demands every service (CHURN_REQUIRE_SERVICES=1)."""
    return os.environ.get(REQUIRE_SERVICES_ENV, "").strip() == "1"


def require_service(available: bool, reason: str) -> None:
    """Skip with `reason` when a service is unavailable; fail instead when services are required."""
    if available:
        return
    if services_required():
        pytest.fail(f"{reason} ({REQUIRE_SERVICES_ENV}=1)")
    pytest.skip(reason)


def require_module(name: str, reason: str):
    """Import and return module `name`; skip with `reason` when it is missing (fail instead when
    services are required), the CHURN_REQUIRE_SERVICES-aware `pytest.importorskip`."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if services_required():
            pytest.fail(f"{reason} ({exc}; {REQUIRE_SERVICES_ENV}=1)")
        pytest.skip(f"{reason} ({exc})", allow_module_level=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float, process: subprocess.Popen | None = None) -> bool:
    """Poll `url` until it answers any HTTP status; False after `timeout` seconds or if `process`
    exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return True
        except urllib.error.HTTPError:
            return True  # the server answered, even if with an error status
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.1)
    return False


def find_executable(name: str) -> str | None:
    """`name` beside the running interpreter (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate the process we started (by its PID), killing it if it does not exit in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


@contextmanager
def moto_s3_server(timeout: float = 30.0) -> Iterator[str]:
    """A moto S3 server on a free local port; yields its endpoint URL and stops it on exit."""
    executable = find_executable("moto_server")
    require_service(
        executable is not None,
        "moto_server not found beside the Python interpreter or on PATH; "
        "install the dev extras (pip install -e '.[dev]')",
    )
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # The server logs every request; a file (not a pipe) can never fill up and block it.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [executable, "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            if not wait_for_http(endpoint, timeout, process):
                stop_process(process)
                log.seek(0)
                output = log.read().decode(errors="replace")[-2000:].strip()
                require_service(
                    False,
                    f"moto_server did not answer at {endpoint} within {timeout:.0f}s "
                    f"(exit code {process.returncode}): {output or 'no output'}",
                )
            yield endpoint
        finally:
            stop_process(process)
