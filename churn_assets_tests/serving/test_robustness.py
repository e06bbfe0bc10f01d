"""Each failure the old server had is a test here: bursts, slow and idle clients, disconnects,
extra keys, deep nesting, bad Content-Length, and bad input of every kind (never a 500)."""

import json
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn_assets.serving.config import ServerConfig
from churn_assets_tests.serving.running import call, raw_exchange, running
from churn_assets_tests.serving.test_app import Loader, _metric, record

CONFIG = ServerConfig(
    tracking_uri="unused", poll_seconds=0, read_timeout=1.0, max_body_bytes=200_000, queue_size=8
)


@pytest.fixture(scope="module")
def served():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURN_SERVER_READ_TIMEOUT", "1")
        with running(CONFIG, Loader()) as (url, state):
            for _ in range(200):
                if state.current is not None:
                    break
                time.sleep(0.05)
            yield url, int(url.rsplit(":", 1)[1]), state


def _post_head(length: str | int, path: str = "/predict") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def test_200_concurrent_posts_are_all_answered(served):
    url, _, _ = served
    body = json.dumps([record(i) for i in range(20)]).encode()

    def post(_):
        status, _, headers = call(f"{url}/predict", "POST", body, timeout=60)
        return status, headers.get("retry-after")

    with ThreadPoolExecutor(200) as pool:
        answers = list(pool.map(post, range(200)))  # a reset would raise here
    statuses = {s for s, _ in answers}
    assert statuses <= {200, 503}, statuses
    assert all(retry == "1" for s, retry in answers if s == 503)
    assert 200 in statuses


def test_a_slow_body_gets_408_and_an_idle_connection_is_closed(served):
    url, port, _ = served
    before = _metric(url, 'churn_server_rejected_total{reason="timeout"}')
    started = time.monotonic()
    answer = raw_exchange(port, _post_head(100) + b'{"tenure": 1', timeout=10)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert time.monotonic() - started < 5
    assert _metric(url, 'churn_server_rejected_total{reason="timeout"}') == before + 1
    started = time.monotonic()
    assert raw_exchange(port, b"", timeout=10) == b""  # closed by the server, not by us
    assert time.monotonic() - started < 5
    started = time.monotonic()  # headers dribbled and never finished: closed as well
    assert raw_exchange(port, b"POST /predict HTTP/1.1\r\nHost: x\r\n", timeout=10) == b""
    assert time.monotonic() - started < 5


def test_a_client_disconnect_is_one_log_line_and_not_a_500(served, caplog):
    url, port, _ = served
    before = _metric(url, 'churn_server_rejected_total{reason="disconnect"}')
    caplog.set_level(logging.INFO)
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(_post_head(5000) + b'[{"tenure": 3,')
        time.sleep(0.2)
    for _ in range(50):
        if _metric(url, 'churn_server_rejected_total{reason="disconnect"}') == before + 1:
            break
        time.sleep(0.05)
    assert _metric(url, 'churn_server_rejected_total{reason="disconnect"}') == before + 1
    lines = [r for r in caplog.records if "went away" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    text = call(f"{url}/metrics")[1]["text"]
    assert 'status="500"' not in text


def test_extra_keys_are_dropped(served):
    url, _, _ = served
    plain = call(f"{url}/predict", "POST", record(0))[1]["predictions"]
    noisy = record(0) | {f"extra_{i}": "x" * 5 for i in range(5_000)}
    status, body, _ = call(f"{url}/predict", "POST", noisy)
    assert status == 200 and body["predictions"] == plain


def test_deep_nesting_is_400_not_500(served):
    url, _, _ = served
    for payload in (b"[" * 100_000, b'{"a":' * 401 + b"1" + b"}" * 401):
        status, body, _ = call(f"{url}/predict", "POST", payload)
        assert status == 400 and "nests deeper than 400" in body["error"]
    # brackets inside strings are not nesting
    text_value = record(0) | {"contract": "[" * 500}
    assert call(f"{url}/predict", "POST", text_value)[0] == 200


@pytest.mark.parametrize(
    ("length", "status"),
    [("-1", 400), ("abc", 400), ("99999999999999999999999999", 400), ("300000", 413)],
)
def test_bad_content_length(served, length, status):
    _, port, _ = served
    answer = raw_exchange(port, _post_head(length), timeout=5)
    assert answer.startswith(f"HTTP/1.1 {status}".encode()), answer[:120]


def test_a_chunked_body_growing_over_the_limit_is_413(served):
    """No Content-Length to refuse up front: the limit is counted while the body arrives."""
    _, port, _ = served
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"[" + b" " * 50_000
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head)
        try:
            for _ in range(10):  # 500 kB against a 200 kB limit
                conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the rest was sent
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        (lambda r: {k: v for k, v in r.items() if k != "tenure"}, 422, "field 'tenure' is missing"),
        (lambda r: r | {"tenure": "three"}, 422, "field 'tenure' must be a number"),
        (lambda r: r | {"tenure": True}, 422, "field 'tenure' must be a number"),
        (lambda r: r | {"tenure": 10**400}, 422, "field 'tenure' must be a number"),
        (lambda r: r | {"contract": {"a": 1}}, 422, "field 'contract' must be text"),
        (lambda r: [], 422, "empty"),
        (lambda r: [r, 3], 422, "row 1: expected an object"),
        (lambda r: "text", 422, "expected a JSON object"),
    ],
)
def test_bad_input_names_the_field(served, change, status, says):
    url, _, _ = served
    got, body, _ = call(f"{url}/predict", "POST", change(record(0)))
    assert got == status and says in body["error"], body


def test_bad_json_and_non_finite_numbers_are_400(served):
    url, _, _ = served
    assert call(f"{url}/predict", "POST", b'{"tenure": ')[0] == 400
    assert call(f"{url}/predict", "POST", b'{"tenure": NaN}')[0] == 400
    assert call(f"{url}/predict", "POST", b"\xff\xfe")[0] == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(json_values, st.sampled_from(["tenure", "contract", "gender", "nothing"]))
def test_no_input_gives_a_500(served, value, field):
    url, _, _ = served
    for payload in (value, record(0) | {field: value}):
        status = call(f"{url}/predict", "POST", payload)[0]
        assert status in (200, 400, 422), (payload, status)
