"""A gate a sandboxed task can wait on: a loopback TCP server the test opens.

A task in a strict worker sees no file of the test's, so "wait until the test
says go" goes over TCP, to a port its tenant's policy allows. The task side::

    with socket.create_connection(("127.0.0.1", ctx["gate"]), timeout=30) as s:
        s.recv(1)          # returns once the test calls gate.open()

The test side::

    with TcpGate() as gate:
        host.registry.set_policy("acme", allow_connect=[gate.port])
        ...
        gate.open()
"""

from __future__ import annotations

import socket
import threading

__all__ = ["TcpGate"]


class TcpGate:
    """Accepts connections on 127.0.0.1 and answers each with one byte once `open` is called."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self.connections = 0
        self._opened = threading.Event()
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                if self._opened.is_set():
                    self._release(conn)
                else:
                    self._held.append(conn)

    @staticmethod
    def _release(conn: socket.socket) -> None:
        try:
            conn.sendall(b"1")
        except OSError:
            pass
        conn.close()

    def open(self) -> None:
        """Let every waiting and future connection through."""
        with self._lock:
            self._opened.set()
            held, self._held = self._held, []
        for conn in held:
            self._release(conn)

    def close(self) -> None:
        """Stop listening and drop held connections."""
        self.open()
        self._server.close()

    def __enter__(self) -> TcpGate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
