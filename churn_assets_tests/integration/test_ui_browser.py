"""The real Dagster UI in headless Chromium: the asset graph and the promoted model's page.

Debian's `chromium` (`apt-get install -y chromium`) runs headless with a fresh profile and its
background networking off, driven over the DevTools protocol (websocket-client). Each page is
opened, waited for until the app shows the mission's assets, and saved as a PNG screenshot under
test-artifacts/ui/ (gitignored). Any console error, uncaught exception or error log entry fails
the test; ALLOWED_ERRORS lists the few that are the sandbox's closed network, not the app.
"""

import base64
import io
import itertools
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from churn_assets_tests.integration.dagster_ui import (  # noqa: F401 (dagster_ui is a fixture)
    REPO_ROOT,
    DagsterUI,
    dagster_ui,
    stop_group,
)
from churn_assets_tests.integration.services import require_module, require_service

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = os.environ.get("CHURN_CHROMIUM", "/usr/bin/chromium")
INSTALL_HINT = "install Debian chromium (apt-get install -y chromium)"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
WIDTH, HEIGHT = 1600, 1000
START_TIMEOUT = 60.0
RENDER_TIMEOUT = 120.0  # the app's first GraphQL queries are slow on a busy machine
SETTLE_SECONDS = 3.0  # layout and fonts after the awaited text appears
MIN_PNG_BYTES = 20_000
GROUPS = ("ingestion", "validation", "features", "training", "registry", "monitoring")
# Node labels the graph must show (long keys like logistic_regression are shortened on the nodes).
GRAPH_ASSETS = [
    "raw_dataset",
    "validated_dataset",
    "features",
    "xgboost",
    "model_evaluation",
    "promoted_model",
    "drift_reference",
    "drift_report",
]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
    f"--window-size={WIDTH},{HEIGHT}",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",  # Chromium picks one and writes it to DevToolsActivePort
]

# (pattern on the error text, why it is not the app's fault). Keep this short and specific.
ALLOWED_ERRORS: list[tuple[str, str]] = []


class DevTools:
    """A minimal Chrome DevTools Protocol client on one page target (websocket-client)."""

    def __init__(self, ws_url: str):
        import websocket

        self._ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self._ids = itertools.count(1)
        self.events: list[dict] = []

    def close(self) -> None:
        self._ws.close()

    def call(self, method: str, timeout: float = 60.0, **params) -> dict:
        """Send a command and return its result; events read meanwhile are kept in `events`."""
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self._ws.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(f"no answer to {method} within {timeout:.0f}s")

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float) -> bool:
        """Poll a JavaScript expression until it is truthy; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return True
            time.sleep(0.5)
        return False

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far, as text."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                args = params.get("args", [])
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in args)
                found.append(f"console.error: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                text = details.get("exception", {}).get("description") or details.get("text")
                found.append(f"uncaught exception: {text}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(
                    f"log {entry.get('source')}: {entry.get('text')} {entry.get('url', '')}"
                )
        return found


def _allowed(error: str) -> bool:
    return any(re.search(pattern, error) for pattern, _reason in ALLOWED_ERRORS)


@contextmanager
def chromium() -> Iterator[DevTools]:
    """Headless Chromium with a fresh profile; a DevTools client on its first page."""
    require_service(os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} not found; {INSTALL_HINT}")
    require_module("websocket", "websocket-client is needed to drive Chromium")
    with tempfile.TemporaryDirectory(prefix="churn-chromium-") as profile:
        log_path = Path(profile).parent / f"{Path(profile).name}.log"
        with open(log_path, "w+b") as log:
            process = subprocess.Popen(
                [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            client = None
            try:
                port_file = Path(profile) / "DevToolsActivePort"
                deadline = time.monotonic() + START_TIMEOUT
                while not port_file.exists() and time.monotonic() < deadline:
                    if process.poll() is not None:
                        break
                    time.sleep(0.2)
                if not port_file.exists():
                    log.seek(0)
                    output = log.read().decode(errors="replace")[-2000:]
                    require_service(
                        False,
                        f"chromium did not open its DevTools port within {START_TIMEOUT:.0f}s "
                        f"(exit code {process.poll()}): {output}",
                    )
                port = int(port_file.read_text().split()[0])
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                    targets = json.load(r)
                page = next(t for t in targets if t["type"] == "page")
                client = DevTools(page["webSocketDebuggerUrl"])
                client.call("Runtime.enable")
                client.call("Log.enable")
                client.call("Page.enable")
                client.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=WIDTH,
                    height=HEIGHT,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                yield client
            finally:
                if client is not None:
                    client.close()
                stop_group(process)
        log_path.unlink(missing_ok=True)


def _screenshot(client: DevTools, url: str, expected_text: list[str], name: str) -> Path:
    """Open `url`, wait until every `expected_text` shows, and save a PNG screenshot as `name`."""
    client.call("Page.navigate", url=url)
    condition = " && ".join(
        f"document.body && document.body.innerText.includes({json.dumps(t)})" for t in expected_text
    )
    rendered = client.wait_for(condition, RENDER_TIMEOUT)
    time.sleep(SETTLE_SECONDS)
    shot = base64.b64decode(client.call("Page.captureScreenshot", format="png")["data"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(shot)
    if not rendered:
        text = client.evaluate("document.body ? document.body.innerText.slice(0, 1500) : ''")
        pytest.fail(
            f"{url} did not show {expected_text} within {RENDER_TIMEOUT:.0f}s "
            f"(screenshot {path}); page text: {text!r}; errors: {client.errors()}"
        )
    return path


def _assert_rendered_png(path: Path) -> None:
    """A PNG of the window's size, big enough and varied enough not to be a blank page."""
    from PIL import Image

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert len(data) > MIN_PNG_BYTES, f"{path} is only {len(data)} bytes"
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (WIDTH, HEIGHT), image.size
        colors = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert len(colors) > 50, f"{path} has {len(colors)} colours: a blank or near-blank page"


def _assert_no_console_errors(client: DevTools, page: str) -> None:
    errors = [e for e in client.errors() if not _allowed(e)]
    assert not errors, f"console errors on {page}:\n" + "\n".join(errors)


@pytest.fixture(scope="module")
def browser(request) -> Iterator[DevTools]:
    # Chromium is looked for before the (slow) webserver is started for nothing.
    require_service(os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} not found; {INSTALL_HINT}")
    dagster_ui: DagsterUI = request.getfixturevalue("dagster_ui")  # noqa: F811
    # On a 127.0.0.1 origin the UI greets a new instance with a "Join the Dagster community"
    # dialog over every page; the instance's own mutation records it as seen, as Skip would.
    dagster_ui.graphql("mutation SetNuxSeen { setNuxSeen }")
    with chromium() as client:
        yield client


@pytest.fixture(autouse=True)
def _fresh_events(browser):
    browser.events.clear()


def test_asset_graph_page(browser, dagster_ui: DagsterUI):  # noqa: F811
    # Every group expanded (the graph collapses groups by default once there are several).
    expanded = ",".join(f"global@global:{group}" for group in GROUPS)
    path = _screenshot(
        browser,
        f"{dagster_ui.url}/asset-groups?{urllib.parse.urlencode({'expanded': expanded})}",
        GRAPH_ASSETS,
        "asset_graph.png",
    )
    _assert_rendered_png(path)
    _assert_no_console_errors(browser, "the asset graph")


def test_promoted_model_page(browser, dagster_ui: DagsterUI):  # noqa: F811
    path = _screenshot(
        browser,
        f"{dagster_ui.url}/assets/promoted_model",
        ["promoted_model", "Latest check results", "model_evaluation", "drift_reference"],
        "promoted_model.png",
    )
    _assert_rendered_png(path)
    _assert_no_console_errors(browser, "the promoted model's page")


def test_promoted_model_checks_tab(browser, dagster_ui: DagsterUI):  # noqa: F811
    path = _screenshot(
        browser,
        f"{dagster_ui.url}/assets/promoted_model?view=checks",
        ["champion_loads_and_scores", "champion_meets_thresholds", "blocking"],
        "promoted_model_checks.png",
    )
    _assert_rendered_png(path)
    _assert_no_console_errors(browser, "the promoted model's checks")
