"""Run the server's ASGI app under real uvicorn (our protocol and options) on a loopback port."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from churn_assets.serving.app import create_app
from churn_assets.serving.config import ServerConfig
from churn_assets.serving.server import APP, uvicorn_options


@contextmanager
def running(config: ServerConfig, loader) -> Iterator[tuple[str, object]]:
    """Yields (base URL, the app's ServingState) while uvicorn serves in a thread."""
    app = create_app(config, loader)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    options = {k: v for k, v in uvicorn_options(config).items() if k != "factory"}
    options["log_level"] = "info"
    assert APP.endswith("create_app")
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app.state
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def call(
    url: str, method: str = "GET", body=None, headers: dict | None = None, timeout: float = 10
) -> tuple[int, dict, dict]:
    """(status, decoded JSON body or {"text": ...}, response headers)."""
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    if method == "POST" and data is None:
        data = b""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw, status, head = response.read(), response.status, _lower(response.headers)
    except urllib.error.HTTPError as exc:
        raw, status, head = exc.read(), exc.code, _lower(exc.headers)
    try:
        return status, json.loads(raw), head
    except ValueError:
        return status, {"text": raw.decode(errors="replace")}, head


def raw_exchange(port: int, payload: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes on a fresh connection and return everything read until it closes/times out."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(payload)
        chunks = []
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                    break
        except TimeoutError:
            pass
        return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _lower(headers) -> dict:
    return {k.lower(): v for k, v in headers.items()}
