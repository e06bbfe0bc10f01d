"""Fault: the process writing an asset is SIGKILLed mid-write. The previous value stays readable
and correct, no half file is ever read, and the next run succeeds.

The kill is injected at a known point of a real materialization in a child process (half the
bytes written to the temporary file; all bytes written, rename not yet done), not at a random time.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, build_input_context

from churn_assets.resources.parquet_io import LocalParquetIOManager
from churn_assets_tests.integration.faults.write_child import frame

pytestmark = [pytest.mark.faults, pytest.mark.slow]
CHILD = "churn_assets_tests.integration.faults.write_child"
REPO = Path(__file__).resolve().parents[3]


def _child(base_dir: Path, version: int, *fault: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-m", CHILD, str(base_dir), str(version), *fault],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _load(base_dir: Path) -> pd.DataFrame:
    manager = LocalParquetIOManager(base_dir=str(base_dir))
    return manager.load_input(build_input_context(asset_key=AssetKey("customers")))


def _kill_at(process: subprocess.Popen, marker: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace")[-2000:]
            pytest.fail(
                "the write finished without reaching the injected fault point (did the IO "
                f"manager stop writing through os.fdopen/os.replace?): {output}"
            )
        assert time.monotonic() < deadline, "the child never reached the fault point"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.parametrize("fault", ["stall-mid-write", "stall-before-rename"])
def test_sigkill_during_an_asset_write_keeps_the_previous_value(tmp_path, fault):
    base_dir = tmp_path / "assets"
    first = _child(base_dir, 1)
    assert first.wait(timeout=180) == 0, first.stdout.read().decode(errors="replace")[-2000:]
    pd.testing.assert_frame_equal(_load(base_dir), frame(1))

    marker = tmp_path / "at-fault-point"
    _kill_at(_child(base_dir, 2, fault, str(marker)), marker)

    # The previous value is what a reader gets, whole and correct; the half-written bytes sit in
    # a hidden temporary file that no reader looks at.
    pd.testing.assert_frame_equal(_load(base_dir), frame(1))
    leftovers = [p.name for p in base_dir.iterdir() if p.name != "customers.parquet"]
    assert leftovers and all(n.startswith(".customers.parquet.") for n in leftovers), leftovers

    # The next run succeeds and its value replaces the old one.
    again = _child(base_dir, 3)
    assert again.wait(timeout=180) == 0, again.stdout.read().decode(errors="replace")[-2000:]
    pd.testing.assert_frame_equal(_load(base_dir), frame(3))
    instance = DagsterInstance.get()
    latest = instance.get_latest_materialization_event(AssetKey("customers"))
    assert latest.asset_materialization.metadata["dagster/row_count"].value == len(frame(3))
