"""A loopback TCP forwarder that stands for a service's endpoint during an outage.

Clients talk to the gate's port; the gate forwards each connection to the service's port. Closing
the gate is the outage as a client sees it: new connections are refused and open ones are cut.
Opening it again (same port, possibly a new service port behind it) ends the outage, so a test can
restart the service and provision it behind a closed gate before any client reaches it.
"""

from __future__ import annotations

import selectors
import socket
import socketserver
import threading

from churn_assets_tests.integration.services import free_port


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # reopen on the same port while old connections sit in TIME_WAIT
    daemon_threads = True


class _Pipe(socketserver.BaseRequestHandler):
    """Copies bytes both ways between the client and the service until either side closes."""

    def handle(self) -> None:
        gate: Gate = self.server.gate  # type: ignore[attr-defined]
        try:
            upstream = socket.create_connection(("127.0.0.1", gate.target_port), timeout=5)
        except OSError:  # the service is not up: the client sees its connection closed
            return
        gate.track(self.request, upstream)
        with upstream, selectors.DefaultSelector() as selector:
            selector.register(self.request, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, self.request)
            try:
                while True:
                    for key, _ in selector.select():
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        key.data.sendall(data)
            except OSError:  # cut by Gate.close, or a side reset
                return


class Gate:
    """The endpoint `http://127.0.0.1:<port>`; `open(target_port)` and `close()` toggle it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.target_port = 0
        self._server: _Server | None = None
        self._open_sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def track(self, *sockets: socket.socket) -> None:
        with self._lock:
            self._open_sockets.extend(sockets)

    def open(self, target_port: int) -> None:
        """Listen on `self.port` again and forward to `target_port`."""
        self.target_port = target_port
        self._server = _Server(("127.0.0.1", self.port), _Pipe)
        self._server.gate = self  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        """Stop listening (connections are refused) and cut every forwarded connection."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            sockets, self._open_sockets = self._open_sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # already closed by its side
                pass
