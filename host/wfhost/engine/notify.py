"""Wake-ups between processes: a client or host that creates work tells the hosts at once.

Every running host listens on a UDP port on 127.0.0.1 and records it in the
``hosts`` table; whoever commits new work (a schedule, a signal, a
cancellation) sends one datagram to each live host on this machine. On
PostgreSQL hosts also ``LISTEN wfhost`` and writers ``NOTIFY wfhost``, which
reaches hosts on other machines. A lost wake-up costs at most one scan
interval, because hosts also scan the store every second: the wake-up makes
pick-up immediate, the scan makes it certain.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select, text

from wfhost.store._db import H, now
from wfhost.store.engine import reader

__all__ = ["CHANNEL", "PgListener", "WakeListener", "host_alive", "live_hosts", "notify_hosts"]

CHANNEL = "wfhost"

LIVE_SECONDS = 15.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def host_alive(row: Any, at: float) -> bool:
    """Whether a ``hosts`` row is a running host.

    Not if it stopped, or has not heartbeated for `LIVE_SECONDS`; on this
    machine, not if its process is gone, which lets a restarted host recover
    the attempts its dead predecessor leased at once instead of after the TTL.
    """
    if row.stopped or row.heartbeat_at < at - LIVE_SECONDS:
        return False
    return row.hostname != socket.gethostname() or _pid_alive(row.pid)


def live_hosts(engine: Engine) -> list[tuple[str, int | None]]:
    """Hosts that are running now: ``(host id, wake port)`` (port ``None`` if on another machine)."""
    me = socket.gethostname()
    with reader(engine).connect() as conn:
        rows = conn.execute(select(H.c.id, H.c.hostname, H.c.pid, H.c.heartbeat_at, H.c.wake_port,
                                   H.c.stopped).where(H.c.stopped.is_(False))).all()
    at = now()
    return [(r.id, r.wake_port if r.hostname == me else None) for r in rows if host_alive(r, at)]


_recent: dict[int, tuple[float, list[tuple[str, int | None]]]] = {}
_CACHE_SECONDS = 1.0


def notify_hosts(engine: Engine, exclude: str | None = None) -> int:
    """Send a wake-up to every live host on this machine; returns how many were told.

    The list of hosts is cached for a second: a host that started within that
    second learns of the work at its next scan instead.
    """
    told = 0
    cached = _recent.get(id(engine))
    if cached is None or cached[0] < time.monotonic():
        cached = (time.monotonic() + _CACHE_SECONDS, live_hosts(engine))
        _recent[id(engine)] = cached
    if engine.dialect.name == "postgresql":  # the sender's host id: its own listener ignores it
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_notify(:c, :me)"), {"c": CHANNEL, "me": exclude or ""})
    targets = [port for hid, port in cached[1] if port and hid != exclude]
    if not targets:
        return 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for port in targets:
            with contextlib.suppress(OSError):
                sock.sendto(b"wake", ("127.0.0.1", port))
                told += 1
    return told


class WakeListener:
    """Receives wake-up datagrams on a thread and calls ``on_wake`` for each."""

    def __init__(self, on_wake: Callable[[], None]) -> None:
        self._on_wake = on_wake
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wfhost-wake", daemon=True)

    def start(self) -> None:
        """Start listening."""
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._sock.recvfrom(64)
            except OSError:
                return
            if not self._stop.is_set():
                self._on_wake()

    def close(self) -> None:
        """Stop listening and close the socket."""
        self._stop.set()
        with contextlib.suppress(OSError):
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", self.port))
        self._thread.join(timeout=2)
        self._sock.close()


class PgListener:
    """``LISTEN wfhost`` on its own PostgreSQL connection; calls ``on_wake`` per notification.

    Notifications from host ``ignore`` (the listening host itself, which woke its own
    scheduler already and tells only the others, as `notify_hosts` does) are skipped.
    """

    def __init__(self, url: str, on_wake: Callable[[], None], ignore: str | None = None) -> None:
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._conn.execute(f"LISTEN {CHANNEL}")
        self._on_wake = on_wake
        self._ignore = ignore
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wfhost-listen", daemon=True)

    def start(self) -> None:
        """Start listening."""
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for note in self._conn.notifies(timeout=0.5):
                    if not self._ignore or note.payload != self._ignore:
                        self._on_wake()
            except Exception:  # noqa: BLE001 - the connection went away; polling still covers
                return

    def close(self) -> None:
        """Stop listening and close the connection."""
        self._stop.set()
        self._thread.join(timeout=2)
        with contextlib.suppress(Exception):
            self._conn.close()
