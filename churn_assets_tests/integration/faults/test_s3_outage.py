"""Fault: the S3 endpoint goes away (moto_server killed) and comes back, under the S3 IO manager.

A write during the outage is retried (boto3 standard retries, `S3Resource.max_attempts`) and
succeeds once the endpoint is back; with fewer attempts it fails in seconds with an error naming
the endpoint; a truncated object is never loaded as a valid value.

The endpoint the IO manager talks to is a loopback TCP gate in front of moto_server
(`tcp_gate.py`). The outage closes the gate (connections refused, open ones cut) and kills moto.
moto keeps objects in memory, so it restarts empty; its bucket is recreated behind the still
closed gate, as a real S3 comes back with its buckets, and only then does the gate open. So
nothing but the writer's own retries carries the write across the outage, and no retry can land
between "moto answers" and "the bucket exists" (it once did, and failed with NoSuchBucket).
"""

import signal
import subprocess
import tempfile
import threading
import time

import pandas as pd
import pytest
from botocore.exceptions import BotoCoreError
from dagster import AssetKey, build_input_context, build_output_context
from dagster_aws.s3 import S3Resource

from churn_assets.resources.parquet_io import S3ParquetIOManager, parquet_bytes
from churn_assets_tests.integration.faults.tcp_gate import Gate
from churn_assets_tests.integration.services import (
    find_executable,
    free_port,
    require_service,
    wait_for_http,
)

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.slow]
BUCKET = "churn-outage"
KEY = AssetKey("customers")
V1 = pd.DataFrame({"customer_id": ["a", "b"], "tenure": [1, 2]})
V2 = pd.DataFrame({"customer_id": ["a", "b", "c"], "tenure": [5, 6, 7]})


class Moto:
    """moto_server behind a TCP gate; `url` and `port` are the gate's, the endpoint clients use."""

    def __init__(self):
        self.gate = Gate()
        self.port = self.gate.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self) -> None:
        """Start moto on a port of its own, create the bucket, then open the endpoint."""
        executable = find_executable("moto_server")
        require_service(executable is not None, "moto_server not found (dev extras)")
        port = free_port()
        behind = f"http://127.0.0.1:{port}"
        log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [executable, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
        )
        require_service(
            wait_for_http(behind, 60, self.process), f"moto_server did not start at {behind}"
        )
        import boto3

        boto3.client("s3", endpoint_url=behind, region_name="us-east-1").create_bucket(
            Bucket=BUCKET
        )
        self.gate.open(port)

    def kill(self) -> None:
        """The outage: the endpoint refuses connections and moto dies (and forgets everything)."""
        self.gate.close()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)


@pytest.fixture
def moto(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = Moto()
    server.start()
    yield server
    server.kill()


def _manager(url: str, attempts: int) -> S3ParquetIOManager:
    s3 = S3Resource(endpoint_url=url, region_name="us-east-1", max_attempts=attempts)
    return S3ParquetIOManager(s3=s3, bucket=BUCKET, prefix="assets")


def _write(manager: S3ParquetIOManager, frame: pd.DataFrame) -> None:
    manager.handle_output(build_output_context(asset_key=KEY), frame)


def _read(manager: S3ParquetIOManager) -> pd.DataFrame:
    return manager.load_input(build_input_context(asset_key=KEY))


def test_a_write_during_the_outage_is_retried_and_lands_when_s3_is_back(moto):
    manager = _manager(moto.url, attempts=10)
    _write(manager, V1)
    pd.testing.assert_frame_equal(_read(manager), V1)

    moto.kill()
    outcome: dict = {}

    def writer() -> None:
        try:
            _write(manager, V2)
            outcome["ok"] = True
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(1.5)  # the writer is retrying against a closed port
    assert thread.is_alive(), f"the write gave up at once: {outcome}"
    moto.start()
    thread.join(timeout=300)
    assert outcome == {"ok": True}, outcome
    pd.testing.assert_frame_equal(_read(manager), V2)


def test_an_outage_longer_than_the_retries_fails_in_seconds_naming_the_endpoint(moto):
    manager = _manager(moto.url, attempts=2)
    _write(manager, V1)
    moto.kill()
    started = time.monotonic()
    with pytest.raises((OSError, BotoCoreError)) as raised:
        _write(manager, V2)
    assert f"127.0.0.1:{moto.port}" in str(raised.value)
    with pytest.raises((OSError, BotoCoreError)) as raised:
        _read(manager)
    assert f"127.0.0.1:{moto.port}" in str(raised.value)
    assert time.monotonic() - started < 60


def test_a_truncated_object_is_never_loaded_as_a_value(moto):
    import boto3

    manager = _manager(moto.url, attempts=3)
    payload = parquet_bytes(V2)
    client = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
    client.put_object(
        Bucket=BUCKET, Key="assets/customers.parquet", Body=payload[: len(payload) // 2]
    )
    with pytest.raises((OSError, ValueError)) as raised:  # pyarrow's ArrowInvalid is both
        _read(manager)
    assert "parquet" in str(raised.value).lower()
