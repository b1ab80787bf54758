"""Waking a process that waits for the store to change, instead of polling it.

`Client.wait` opens a `StoreWatch` before its first read and re-reads only
when the watch fires. On PostgreSQL the watch is ``LISTEN wfhost`` (hosts
``NOTIFY`` when an execution finishes, from any machine); on SQLite it is
inotify on the database's directory (every commit writes the ``-wal`` file,
and a SQLite file is only ever shared by processes of one machine). Where
neither is available the watch is a timer, and the waiter polls slowly.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import struct
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from .notify import CHANNEL

__all__ = ["FALLBACK_POLL_SECONDS", "StoreWatch", "open_watch"]

FALLBACK_POLL_SECONDS = 5.0
"""How long a waiter sleeps when no wake-up came: covers a lost one, never the usual path."""

_IN_MODIFY = 0x002
_IN_CREATE = 0x100
_IN_MOVED_TO = 0x080
_EVENT = struct.Struct("iIII")
# A busy host commits thousands of times a second; one re-read per this many seconds is plenty.
_COALESCE_SECONDS = 0.002


class StoreWatch:
    """Fires when the store may have changed; with no mechanism, after `FALLBACK_POLL_SECONDS`."""

    def wait(self, timeout: float | None) -> None:
        """Block until a change, or ``timeout`` seconds (``None``: the fallback poll)."""
        time.sleep(FALLBACK_POLL_SECONDS if timeout is None else min(timeout, FALLBACK_POLL_SECONDS))

    def close(self) -> None:
        """Release what the watch holds."""

    def __enter__(self) -> StoreWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _InotifyWatch(StoreWatch):
    """Changes to the files of one SQLite database (the database, its ``-wal`` and ``-journal``)."""

    def __init__(self, database: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._name = database.name.encode()
        # The directory, not the files: the -wal file comes and goes with connections.
        if libc.inotify_add_watch(self._fd, os.fsencode(database.parent),
                                  _IN_MODIFY | _IN_CREATE | _IN_MOVED_TO) < 0:
            os.close(self._fd)
            raise OSError(ctypes.get_errno(), f"cannot watch {database.parent}")
        self._last = 0.0

    def _ours(self, data: bytes) -> bool:
        i, hit = 0, False
        while i + _EVENT.size <= len(data):
            _wd, _mask, _cookie, length = _EVENT.unpack_from(data, i)
            name = data[i + _EVENT.size:i + _EVENT.size + length].rstrip(b"\0")
            hit |= name.startswith(self._name)
            i += _EVENT.size + length
        return hit

    def wait(self, timeout: float | None) -> None:
        bound = FALLBACK_POLL_SECONDS if timeout is None else min(timeout, FALLBACK_POLL_SECONDS)
        deadline = time.monotonic() + bound
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self._fd], [], [], left)
            if not ready:
                return
            hit = False
            with contextlib.suppress(BlockingIOError):
                while True:
                    hit |= self._ours(os.read(self._fd, 65536))
            if hit:
                pause = self._last + _COALESCE_SECONDS - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                self._last = time.monotonic()
                return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


class _ListenWatch(StoreWatch):
    """``LISTEN wfhost`` on a connection of its own."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._conn: Any = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                                          autocommit=True)
        self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float | None) -> None:
        bound = FALLBACK_POLL_SECONDS if timeout is None else min(timeout, FALLBACK_POLL_SECONDS)
        for _ in self._conn.notifies(timeout=bound, stop_after=1):
            pass

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()


def open_watch(engine: Engine) -> StoreWatch:
    """The best watch for ``engine``'s database; a plain timer if none can be had."""
    try:
        if engine.dialect.name == "postgresql":
            return _ListenWatch(engine.url.render_as_string(hide_password=False))
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            return _InotifyWatch(Path(str(engine.url.database)).resolve())
    except Exception:  # noqa: BLE001 - no watch is not an error: the waiter polls slowly
        pass
    return StoreWatch()
