"""Frames between the host and a worker: 4-byte big-endian length, then UTF-8 JSON.

They travel over a `socket.socketpair`, never stdin/stdout, so package code
that prints cannot corrupt them.

The bodies are the typed messages of `wfpkg.protocol` in their JSON form:

Host → worker: ``load`` (install_dir, package, label, manifest), ``run``
(run_id, request: `TaskRequest`), ``reply`` (call_id, then one of result:
an encoded `Result`, suspended: what the task waits for, error: an
`ErrorInfo`), ``cancel`` (run_id), ``stop``.
Worker → host: ``ready``, ``load_failed`` (error), ``call`` (call_id,
run_id, seq, call: an encoded `DurableCall`), ``done`` (run_id, outcome: `TaskOutcome`,
and ``exiting`` when the worker ends itself right after, as when an attempt breaks
its CPU limit).

Frames that are ready at once travel together: a `FrameWriter` sends every
frame queued while its previous write was under way in one ``sendall``, and
a `FrameReader` hands out every whole frame one ``recv`` brought. The bytes
on the socket are the same frames one after another either way.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from typing import Any, ClassVar, Final

from wfpkg.errors import ProtocolError

__all__ = ["MAX_FRAME", "FrameError", "FrameReader", "FrameWriter", "encode_frame", "read_frame"]

MAX_FRAME: Final = 64 * 1024 * 1024
_LEN = struct.Struct(">I")
_CHUNK: Final = 64 * 1024
"""Bytes asked of one ``recv``."""


class FrameError(ProtocolError):
    """The peer sent something that is not a frame (internal; never leaves the pool)."""

    code: ClassVar[str] = "frame"


def encode_frame(frame: dict[str, Any]) -> bytes:
    """The frame's bytes on the wire, length first.

    Raises:
        TypeError, ValueError: the frame is not JSON, or over `MAX_FRAME`.
    """
    body = json.dumps(frame, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_FRAME:
        raise ValueError(f"frame of {len(body)} bytes is over the {MAX_FRAME}-byte limit")
    return _LEN.pack(len(body)) + body


def _decode(body: bytes | bytearray) -> dict[str, Any]:
    try:
        frame = json.loads(str(body, "utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"frame is not JSON: {exc}") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("op"), str):
        raise FrameError("frame is not an object with an 'op'")
    return frame


def _check_length(length: int) -> None:
    if length > MAX_FRAME:
        raise FrameError(f"frame of {length} bytes is over the {MAX_FRAME}-byte limit")


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket) -> dict[str, Any] | None:
    """The next frame, read with no read-ahead; ``None`` when the peer closed the connection.

    For a one-off exchange (a trial load); a connection that carries many
    frames is read with a `FrameReader`.

    Raises:
        TimeoutError: the socket has a timeout and it passed.
        FrameError: the peer sent something that is not a frame.
    """
    try:
        head = _recv_exact(sock, _LEN.size)
        if head is None:
            return None
        (length,) = _LEN.unpack(head)
        _check_length(length)
        body = _recv_exact(sock, length)
    except TimeoutError:
        raise
    except OSError:
        return None
    if body is None:
        return None
    return _decode(body)


class FrameReader:
    """Reads frames from one socket: every whole frame a ``recv`` brought, in order.

    One reader per socket, used by one thread.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()
        self._chunk = memoryview(bytearray(_CHUNK))
        self.reads = 0
        """``recv`` calls so far (the tests count them)."""

    def frames(self) -> list[dict[str, Any]] | None:
        """The next frames (at least one), or ``None`` when the peer closed the connection.

        A frame that fails to decode ends the batch: the frames before it are
        returned, and the next call raises for it.

        Raises:
            FrameError: the peer sent something that is not a frame.
        """
        buf = self._buf
        while True:
            out: list[dict[str, Any]] = []
            pos, end = 0, len(buf)
            try:
                while end - pos >= _LEN.size:
                    (length,) = _LEN.unpack_from(buf, pos)
                    _check_length(length)
                    start = pos + _LEN.size
                    if end - start < length:
                        break
                    out.append(_decode(buf[start:start + length]))
                    pos = start + length
            except FrameError:
                del buf[:pos]
                if out:
                    return out
                raise
            del buf[:pos]
            if out:
                return out
            try:
                n = self._sock.recv_into(self._chunk)
            except OSError:
                return None
            self.reads += 1
            if not n:
                return None
            buf += self._chunk[:n]


class FrameWriter:
    """Writes frames to one socket from any thread; frames queued during a write go in the next one.

    The thread that finds no write under way writes every frame queued
    (its own and those other threads add meanwhile) in one ``sendall``,
    until none are left; the others return at once. A frame is on its way
    when `send` returns; `flush` waits until it has been written.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[bytes] = []
        self._writing = False
        self.writes = 0
        """``sendall`` calls so far (the tests count them)."""

    def send(self, *frames: dict[str, Any]) -> None:
        """Queue ``frames`` and write them, with any others queued, unless a write is under way.

        Raises:
            OSError: the peer is gone (raised in the thread that writes).
            TypeError, ValueError: a frame is not JSON (nothing of this call is sent).
        """
        data = [encode_frame(f) for f in frames]
        with self._cond:
            self._queue += data
            if self._writing:
                return
            self._writing = True
        self._drain()

    def _drain(self) -> None:
        try:
            while True:
                with self._cond:
                    if not self._queue:
                        self._writing = False
                        self._cond.notify_all()
                        return
                    batch = b"".join(self._queue) if len(self._queue) > 1 else self._queue[0]
                    self._queue.clear()
                self.writes += 1
                self._sock.sendall(batch)
        except BaseException:
            with self._cond:  # the peer is gone: what is queued will never arrive
                self._queue.clear()
                self._writing = False
                self._cond.notify_all()
            raise

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued frame has been written (or a write failed); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._writing and not self._queue, timeout)
