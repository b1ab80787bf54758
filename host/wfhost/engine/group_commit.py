"""Group commit: a running host's clients write in the scheduler's next turn.

On SQLite one writer holds the lock at a time, and with durability ``full``
every commit is an fsync. A `schedule` or `signal` on a running host's own
client (`Host.client`, the service's routes) therefore does not open a
transaction of its own: it hands its write to the scheduler, which runs it
inside its next turn, under a savepoint, before claiming, and answers once
that turn has committed. So:

- one commit (one fsync under ``full``) serves every write that arrived
  during a turn, and the turn's own outcomes and claims;
- a new execution's first tasks are claimed in the transaction that created
  it, and a signal's woken task in the one that delivered it;
- a client no longer races the scheduler's turns for the write lock.

Each write keeps its own all-or-nothing: a write that raises is rolled back
to its savepoint and its caller gets the error; the turn and the other
writes go on. An error that takes the whole transaction with it fails the
turn. The writes of a turn that fails, and those waiting when the loop
stops, go back to their callers, who make them each in a transaction of
their own (`Write.hand_back`). The write runs on the scheduler's thread, so
callers serialize payloads before handing it over. Writes run on their own,
as before, when the scheduler's loop is not running (a host not started or
stopped), when the caller is the scheduler's own thread (a finished
listener) or holds a write transaction itself (it gets the
nested-transaction error), and on PostgreSQL, where writers run
concurrently and a shared turn would hold row locks that other hosts'
turns take in another order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

from wfhost.store import _sql as sql
from wfhost.store._db import now
from wfhost.store.engine import in_write_transaction

__all__ = ["GroupCommit", "Write"]

T = TypeVar("T")

#: A write: given the open connection and the transaction's time, does its work and returns.
WriteFn = Callable[[Connection, float], T]


class Write(Generic[T]):
    """One caller's write, waiting for the turn that commits it."""

    __slots__ = ("_done", "error", "fn", "result", "yourself")

    def __init__(self, fn: WriteFn[T]) -> None:
        self.fn = fn
        self.result: T | None = None
        self.error: BaseException | None = None
        self.yourself = False  # handed back: the caller runs it on its own
        self._done = threading.Event()

    def answer(self, result: T | None = None, error: BaseException | None = None) -> None:
        """Hand the caller its result or its error."""
        self.result, self.error = result, error
        self._done.set()

    def hand_back(self) -> None:
        """Tell the caller to run its write on its own (the loop stops, or its turn failed)."""
        self.yourself = True
        self._done.set()

    @property
    def answered(self) -> bool:
        """Whether the caller has its answer (or its write back)."""
        return self._done.is_set()


class GroupCommit:
    """The writes a scheduler's turns take in (see the module's doc).

    Args:
        engine: the store.
        wake: asks the scheduler for a turn.
        changed: tells this host and the others that a write on its own made work.
    """

    def __init__(self, engine: Engine, wake: Callable[[], None], changed: Callable[[], None]) -> None:
        self.engine = engine
        self._wake = wake
        self._changed = changed
        self.enabled = engine.dialect.name == "sqlite"
        self._lock = threading.Condition()
        self._queued: list[Write[Any]] = []
        self._loop: int | None = None  # the ident of the thread running the turns, while it takes writes

    # -- the callers' side --------------------------------------------------------------------

    def transact(self, fn: WriteFn[T]) -> T:
        """Run ``fn(conn, at)`` in a transaction, the next turn's when the scheduler takes writes.

        ``fn`` runs on the scheduler's thread: it must not run code of the
        caller's (serialize payloads before).
        """
        write: Write[T] = Write(fn)
        # A caller inside a write transaction of its own would wait for a turn that waits for it:
        # on its own, it gets the engine's error for a nested write transaction instead.
        mine = in_write_transaction(self.engine)
        with self._lock:
            grouped = (self.enabled and not mine and self._loop is not None
                       and self._loop != threading.get_ident())
            if grouped:
                self._queued.append(write)
                self._lock.notify_all()
        if not grouped:
            return self._alone(write)
        try:
            self._wake()
            write._done.wait()
        except BaseException:  # interrupted (Ctrl-C): a write no turn has taken yet is not made
            with self._lock:
                if write in self._queued:
                    self._queued.remove(write)
            raise
        if write.yourself:
            return self._alone(write)
        if write.error is not None:
            raise write.error
        return write.result  # type: ignore[return-value]

    def _alone(self, write: Write[T]) -> T:
        with self.engine.begin() as conn:
            result = write.fn(conn, now())
        self._changed()
        return result

    def wait_queued(self, count: int, timeout: float) -> bool:
        """Block until ``count`` writes wait for a turn (for tests); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._queued) >= count, timeout=timeout)

    # -- the scheduler's side -------------------------------------------------------------------

    def open(self) -> None:
        """Take writes in turns from now on; the calling thread runs the turns."""
        with self._lock:
            self._loop = threading.get_ident()

    def close(self) -> None:
        """Take no more writes; hand those still waiting back to their callers."""
        with self._lock:
            self._loop = None
            left, self._queued = self._queued, []
        for write in left:
            write.hand_back()

    def take(self) -> list[Write[Any]]:
        """The writes waiting for this turn."""
        with self._lock:
            taken, self._queued = self._queued, []
        return taken

    @staticmethod
    def run(conn: Connection, at: float, writes: list[Write[Any]]) -> list[tuple[Write[Any], Any]]:
        """Run each write under its own savepoint; returns ``(write, result)`` for those that succeeded.

        A write that raised has been rolled back to its savepoint and answered
        with its error. If the database rolled back the whole transaction (an
        interrupt, an I/O error), that error is raised: the turn fails.
        """
        done = []
        for write in writes:
            try:
                with sql.savepoint(conn):
                    done.append((write, write.fn(conn, at)))
            except sql.TransactionLost:
                raise
            except BaseException as exc:  # the caller's error (NotFound, Conflict, ...), its write undone
                write.answer(error=exc)
        return done
