"""WAL checkpoints off the committing thread.

SQLite's automatic checkpoint runs inside whichever commit crosses 1,000 WAL
pages: that commit copies the WAL into the database file and syncs it,
taking milliseconds while the scheduler (or a client) holds the write lock.
On a chain of 1,000 tasks the ten slowest commits were half of all commit
time. So the host's connections turn the automatic checkpoint off and a
`Checkpointer` thread runs a ``PASSIVE`` checkpoint after every
`COMMITS_PER_CHECKPOINT` write transactions, on a connection of its own,
while writers go on appending to the WAL. Durability does not change: a
commit is in the WAL (synced or not, per the durability setting) before it
returns, checkpointed or not. A process that exits leaves at most that many
transactions in the WAL; the next connection to close last checkpoints them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from typing import Any

__all__ = ["COMMITS_PER_CHECKPOINT", "Checkpointer", "attach", "checkpointer_of"]

log = logging.getLogger("wfhost.store")

COMMITS_PER_CHECKPOINT = 100  # a scheduler turn writes a handful of pages: ~1,000 pages a checkpoint


class Checkpointer:
    """Checkpoints one SQLite database's WAL in a thread of its own, started on first need.

    Args:
        path: the database file.
        every: write transactions between checkpoints.
    """

    def __init__(self, path: str, every: int = COMMITS_PER_CHECKPOINT) -> None:
        self._path = path
        self._every = every
        self._commits = 0
        self._due = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._ran = threading.Condition()
        self.checkpoints = 0  # how many ran

    def wrote(self) -> None:
        """Count one write transaction (called under the store's write lock)."""
        self._commits += 1
        if self._commits < self._every:
            return
        self._commits = 0
        with self._lock:
            if self._closed:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wfhost-checkpoint",
                                                daemon=True)
                self._thread.start()
        self._due.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            while True:
                self._due.wait()
                self._due.clear()
                if self._closed:
                    return
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    with self._ran:
                        self.checkpoints += 1
                        self._ran.notify_all()
                except sqlite3.Error as exc:  # the next one will try again
                    log.warning("WAL checkpoint of %s failed: %s", self._path, exc)
        finally:
            conn.close()

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until ``count`` checkpoints have run (False if ``timeout`` passed first)."""
        with self._ran:
            return self._ran.wait_for(lambda: self.checkpoints >= count, timeout)

    def close(self) -> None:
        """Stop the thread (after the checkpoint it may be running)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._due.set()
        if thread is not None:
            thread.join(timeout=30)


_OF_ENGINE: weakref.WeakKeyDictionary[Any, Checkpointer] = weakref.WeakKeyDictionary()


def attach(engine: Any) -> Checkpointer | None:
    """A checkpointer for a SQLite engine's database file, closed with the engine (None in memory)."""
    from sqlalchemy import event

    path = engine.url.database
    if not path or path == ":memory:":
        return None
    checkpointer = _OF_ENGINE[engine] = Checkpointer(path)
    event.listen(engine, "engine_disposed", lambda _engine: checkpointer.close())
    return checkpointer


def checkpointer_of(engine: Any) -> Checkpointer | None:
    """The checkpointer of a host's SQLite engine (``None`` for other databases)."""
    return _OF_ENGINE.get(engine)
