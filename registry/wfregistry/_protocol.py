"""Frames between the host and a worker: 4-byte big-endian length, then UTF-8 JSON.

They travel over a `socket.socketpair`, never stdin/stdout, so package code
that prints cannot corrupt them.

The bodies are the typed messages of `wfpkg.protocol` in their JSON form:

Host → worker: ``load`` (install_dir, package, label, manifest), ``run``
(run_id, request: `TaskRequest`), ``reply`` (call_id, then one of result:
an encoded `Result`, suspended: what the task waits for, error: an
`ErrorInfo`), ``cancel`` (run_id), ``stop``.
Worker → host: ``ready``, ``load_failed`` (error), ``call`` (call_id,
run_id, seq, call: an encoded `DurableCall`), ``done`` (run_id, outcome: `TaskOutcome`).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from typing import Any, ClassVar, Final

from wfpkg.errors import ProtocolError

__all__ = ["MAX_FRAME", "FrameError", "read_frame", "write_frame"]

MAX_FRAME: Final = 64 * 1024 * 1024
_LEN = struct.Struct(">I")


class FrameError(ProtocolError):
    """The peer sent something that is not a frame (internal; never leaves the pool)."""

    code: ClassVar[str] = "frame"


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
    """The next frame, or ``None`` when the peer closed the connection.

    Raises:
        TimeoutError: the socket has a timeout and it passed.
        FrameError: the peer sent something that is not a frame.
    """
    try:
        head = _recv_exact(sock, _LEN.size)
        if head is None:
            return None
        (length,) = _LEN.unpack(head)
        if length > MAX_FRAME:
            raise FrameError(f"frame of {length} bytes is over the {MAX_FRAME}-byte limit")
        body = _recv_exact(sock, length)
    except TimeoutError:
        raise
    except OSError:
        return None
    if body is None:
        return None
    try:
        frame = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"frame is not JSON: {exc}") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("op"), str):
        raise FrameError("frame is not an object with an 'op'")
    return frame


def write_frame(sock: socket.socket, lock: threading.Lock, frame: dict[str, Any]) -> None:
    """Send one frame; ``lock`` serializes writers sharing the socket.

    Raises:
        OSError: the peer is gone.
        TypeError, ValueError: the frame is not JSON.
    """
    body = json.dumps(frame, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_FRAME:
        raise ValueError(f"frame of {len(body)} bytes is over the {MAX_FRAME}-byte limit")
    with lock:
        sock.sendall(_LEN.pack(len(body)) + body)
