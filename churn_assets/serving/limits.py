"""Limits on what a client may make a worker hold: body size, read time, idle connections.

- `GuardedHttpToolsProtocol`: uvicorn's httptools protocol with a header deadline. Uvicorn closes
  idle keep-alive connections, but a connection that never sends a request, or sends its headers
  a byte at a time, would be held forever; this closes it after `CHURN_SERVER_READ_TIMEOUT`.
  (httptools itself answers 400 to a malformed request line or a negative Content-Length.)
- `LimitsMiddleware` (pure ASGI, in front of FastAPI): a Content-Length that is not a number
  -> 400, above the body limit -> 413 before reading anything; a body read that stalls for the
  read timeout -> 408; a chunked body that grows past the limit -> 413; a client that goes away
  mid-request is one log line and counted (`churn_server_rejected{reason="disconnect"}`), never
  a 500. It also counts every request by endpoint and status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)
ENDPOINTS = ("/health", "/ready", "/model", "/predict", "/reload", "/metrics", "/docs")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Closes connections whose request headers do not arrive within the read timeout."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.header_timeout = float(os.environ.get("CHURN_SERVER_READ_TIMEOUT") or 10)
        self._deadline = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        if not self.transport.is_closing():
            log.info(
                "closing a connection that sent no complete request in %.0f s", self.header_timeout
            )
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's headers get the same deadline

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


class BodyError(Exception):
    """Raised out of `receive`: the status and message to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ClientGone(Exception):
    """The client disconnected before its request was read."""


def endpoint_of(path: str) -> str:
    path = path.rstrip("/") or "/"
    return path if path in ENDPOINTS else "other"


class LimitsMiddleware:
    """Body size and read-time limits, disconnect handling and per-request metrics."""

    def __init__(self, app, max_body_bytes: int, read_timeout: float, metrics, predict=None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout
        self.metrics = metrics
        # `POST /predict` answered here, without FastAPI's routing and parameter solving:
        # async (body, query string) -> (status, payload, headers), `app.predict_answer`.
        self.predict = predict

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = endpoint_of(scope["path"])
        started = time.perf_counter()
        state = {"status": 500, "started": False}

        async def send_counted(message) -> None:
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
            await send(message)

        try:
            body = await self._read_body(scope, receive)
        except BodyError as exc:
            if exc.status == 408:
                self.metrics.rejected.labels(reason="timeout").inc()
            await _json(send_counted, exc.status, {"error": str(exc)})
        except ClientGone:
            state["status"] = 499  # nginx's "client closed request": not a server error
            self.metrics.rejected.labels(reason="disconnect").inc()
            log.info(
                "client %s went away during %s %s", _client(scope), scope["method"], scope["path"]
            )
        else:
            if self.predict is not None and endpoint == "/predict" and scope["method"] == "POST":
                query = scope.get("query_string", b"").decode("latin-1")
                status, payload, headers = await self.predict(body, query)
                await _json(send_counted, status, payload, headers)
            else:
                await self.app(scope, _replay(body, receive), send_counted)
        finally:
            self.metrics.counted(endpoint, state["status"], time.perf_counter() - started)

    async def _read_body(self, scope, receive) -> bytes:
        """The whole body, read before the app runs, so no limit is hit halfway through it."""
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise BodyError(400, "Content-Length is not a number") from None
                if declared < 0:
                    raise BodyError(400, "Content-Length is negative")
                if declared > self.max_body_bytes:
                    raise BodyError(413, f"the body is larger than {self.max_body_bytes} bytes")
        chunks, seen, more = [], 0, True
        while more:
            try:
                async with asyncio.timeout(self.read_timeout):  # no task per read, unlike wait_for
                    message = await receive()
            except asyncio.TimeoutError:
                raise BodyError(
                    408, f"the body did not arrive within {self.read_timeout:g} s"
                ) from None
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_body_bytes:
                raise BodyError(413, f"the body is larger than {self.max_body_bytes} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


def _replay(body: bytes, receive):
    """A `receive` that hands the app the body already read, then the client's own events."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _client(scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "unknown"


async def _json(send, status: int, payload: dict, extra: dict | None = None) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
    if status in (408, 413):
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
