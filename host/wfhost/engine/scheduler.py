"""The DAG scheduler: claims ready tasks, records outcomes, resolves what comes next.

One loop per host. Each turn is one transaction that applies the outcomes
that arrived since the last turn, fires due timers, enforces timeouts and
cancellations, recovers the tasks of dead hosts, and claims as many ready
tasks as there is capacity for; after the commit the claimed attempts are
dispatched. The loop sleeps until an outcome arrives, something is due, or
another process sends a wake-up: it never busy-polls.

Task states: pending → ready → running → (waiting → ready → running)* →
succeeded | failed | skipped | cancelled.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine

from wfhost.store import _sql as sql
from wfhost.store._db import now
from wfhost.store.engine import skip_locked
from wfpkg.protocol import TaskOutcome
from wfregistry.inflight import Attempt, InFlight

from .catalog import Catalog
from .claims import Claims
from .dispatch import Dispatcher
from .group_commit import GroupCommit, Write
from .scans import HEARTBEAT_SECONDS, SCAN_SECONDS, Scans

__all__ = ["HEARTBEAT_SECONDS", "SCAN_SECONDS", "Scheduler", "new_host_id"]

log = logging.getLogger("wfhost.scheduler")


class Scheduler(Scans, Claims):
    """Runs executions durably against the store.

    The roles live in their own modules: `Outcomes` (record outcomes,
    propagate, settle executions), `Scans` (timers, timeouts, cancellations,
    recovery) and `Claims` (claim ready tasks). The attempts in flight have one
    owner, `InFlight`, shared with the dispatcher and the worker pool.

    Args:
        engine: the store (owned by the caller).
        catalog: resolves plans of executions.
        host_id: this host's id in the ``hosts`` table (leases are held under it).
        max_concurrency: attempts this host runs at once.
        tenant_concurrency: attempts one tenant may run at once on this host.
        on_finished: called with ``(tenant, execution_id, workflow, status)`` after an
            execution finishes (after commit).
    """

    def __init__(self, engine: Engine, catalog: Catalog, host_id: str, *,
                 max_concurrency: int = 32, tenant_concurrency: int | None = None,
                 threads: int | None = None, log_dir: Any = None, load_timeout: float = 30.0,
                 on_finished: Callable[[str, str, str, str], None] | None = None,
                 on_change: Callable[[], object] | None = None, walls: Any = None) -> None:
        from .durable import DurableCalls

        self.engine = engine
        self.catalog = catalog
        self.host_id = host_id
        self.max_concurrency = max_concurrency
        self.tenant_concurrency = tenant_concurrency
        self._on_finished = on_finished
        self._notify_others = on_change or (lambda: None)
        self.calls = DurableCalls(engine, catalog, self._changed)
        self.inflight = InFlight()  # the one owner of running attempts; the dispatcher shares it
        self.dispatcher = Dispatcher(catalog, self.calls, self.inflight, self._outcome,
                                     threads=threads or max_concurrency, log_dir=log_dir,
                                     load_timeout=load_timeout, walls=walls)
        self._skip_locked = skip_locked(engine)
        self._outcomes: deque[tuple[Attempt, TaskOutcome]] = deque()
        self._wake = threading.Event()
        self._scan_requested = True
        self._next_scan = 0.0
        self._next_heartbeat = 0.0
        self._next_drain = 0.0
        self._next_due_at = 0.0
        self._rng = random.Random()
        self._finished_listeners: list[Callable[[str, str], None]] = []
        self._lock = threading.Lock()
        self._conn: Connection | None = None  # the loop's connection, kept between turns
        # Clients' writes ride in the turns while the loop runs (group commit).
        # A write made on its own (no loop, PostgreSQL) made ready tasks at most: no scan needed.
        self.writes = GroupCommit(engine, lambda: self.wake(scan=False), lambda: self._changed(scan=False))

    # -- signals from other threads -------------------------------------------------

    def _outcome(self, run: Attempt, outcome: TaskOutcome) -> None:
        self._outcomes.append((run, outcome))
        self._wake.set()

    def _changed(self, scan: bool = True) -> None:
        self.wake(scan=scan)
        self._notify_others()

    def wake(self, scan: bool = True) -> None:
        """Run a turn now; ``scan`` also looks for work other processes created."""
        if scan:
            self._scan_requested = True
        self._wake.set()

    def add_finished_listener(self, fn: Callable[[str, str], None]) -> None:
        """Call ``fn(uid, status)`` (on the scheduler thread) whenever an execution finishes."""
        self._finished_listeners.append(fn)

    @property
    def busy(self) -> int:
        """Attempts in flight on this host."""
        return self.inflight.count()

    # -- the loop -----------------------------------------------------------------------

    def run(self, stop: threading.Event, until: Callable[[], bool] | None = None) -> None:
        """Turn until ``stop`` is set (or ``until()`` is true)."""
        self.writes.open()
        try:
            while not stop.is_set() and not (until and until()):
                try:
                    delay = self.turn()
                except Exception:  # a turn failed (database gone, bug): its transaction rolled back
                    log.exception("scheduler turn failed; retrying in %.1fs", SCAN_SECONDS)
                    self._scan_requested = True
                    delay = SCAN_SECONDS
                if until and until():
                    return
                self._wake.wait(timeout=min(delay, SCAN_SECONDS))
                self._wake.clear()
        finally:
            self.writes.close()
            self._drop_connection()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken one: what broke it is already raised
                conn.close()

    def turn(self) -> float:
        """One transaction of scheduling work; returns seconds until something falls due."""
        at = now()
        outcomes: list[tuple[Attempt, TaskOutcome]] = []
        while self._outcomes:
            outcomes.append(self._outcomes.popleft())
        writes = self.writes.take()
        # Scan when asked, once a second, and whenever something fell due (a timer, a
        # backoff, a deadline): the loop slept exactly until then.
        scan = self._scan_requested or at >= self._next_scan or at >= self._next_due_at
        self._scan_requested = False
        finished: list[tuple[str, str, str, str, str]] = []
        cancels: list[tuple[str, str, str]] = []
        drained: list[Any] = []
        self._executions: dict[str, Any] = {}
        self._events: list[dict[str, Any]] = []
        self._outputs: dict[tuple[str, str], str] = {}
        written: list[tuple[Write[Any], Any]] = []
        try:
            claimed, next_due = self._transaction(outcomes, writes, written, at, scan, finished,
                                                  cancels, drained)
        except BaseException:
            # Rolled back: nothing happened. Restore what this turn consumed for the next one;
            # the clients' writes go back to their callers, who make them on their own, so a
            # failing turn does not fail them.
            self._outcomes.extendleft(reversed(outcomes))
            for write in writes:
                if not write.answered:
                    write.hand_back()
            raise
        for write, result in written:
            write.answer(result)
        self._next_due_at = at + next_due
        for _uid, tenant, eid in cancels:
            self.dispatcher.cancel(tenant, eid)
        for version in drained:
            self.dispatcher.stop_version(version.tenant, version.name, version.version)
            if self.catalog.registry is not None:  # every host purges its own copy
                self.catalog.registry.purge(version.id)
        self.dispatcher.submit_many(claimed)
        for uid, tenant, eid, workflow, status in finished:
            self.dispatcher.forget(tenant, eid)
            for fn in self._finished_listeners:
                fn(uid, status)
            if self._on_finished:
                self._on_finished(tenant, eid, workflow, status)
        if finished or written:
            self._notify_others()
        return next_due

    def _transaction(self, outcomes: list[tuple[Attempt, TaskOutcome]], writes: list[Write[Any]],
                     written: list[tuple[Write[Any], Any]], at: float, scan: bool,
                     finished: list[tuple[str, str, str, str, str]],
                     cancels: list[tuple[str, str, str]],
                     drained: list[Any]) -> tuple[list[Attempt], float]:
        """The body of a turn, in one transaction; fills ``finished``, ``cancels``, ``drained``."""
        # The loop keeps one connection for its turns (a pool checkout per turn costs more
        # than a chain task's statements); one that failed is closed, and the next turn
        # takes a fresh one.
        conn = self._conn
        if conn is None:
            conn = self._conn = self.engine.connect()
        try:
            with conn.begin():
                return self._turn_body(conn, outcomes, writes, written, at, scan, finished,
                                       cancels, drained)
        except BaseException:
            self._drop_connection()
            raise

    def _turn_body(self, conn: Connection, outcomes: list[tuple[Attempt, TaskOutcome]],
                   writes: list[Write[Any]], written: list[tuple[Write[Any], Any]], at: float,
                   scan: bool, finished: list[tuple[str, str, str, str, str]],
                   cancels: list[tuple[str, str, str]],
                   drained: list[Any]) -> tuple[list[Attempt], float]:
        """The body of a turn inside its transaction."""
        touched: set[str] = set()
        if outcomes and self._skip_locked:
            # Several hosts may finish tasks of one execution at once: without this lock
            # each would read the others' tasks as still running, and the execution's end
            # would never be decided. In uid order, so two hosts' turns cannot deadlock.
            sql.LOCK_EXECUTIONS.run(conn, {"uids": sorted({run.uid for run, _ in outcomes})})
        for run, outcome in outcomes:
            self._apply(conn, run, outcome, at, touched)
        if writes:  # before claiming: a new execution's first tasks are claimed in this turn
            if self._events:  # the outcomes' events first: the history is in the order things happened
                sql.EVENTS.many(conn, self._events)
                self._events = []
            written.extend(self.writes.run(conn, at, writes))
        if scan:
            if at >= self._next_heartbeat:
                self._heartbeat(conn, at)
            self._fire_timers(conn, at, touched)
            self._expire_tasks(conn, at, touched)
            cancels.extend(self._apply_cancellations(conn, at, touched))
            drained.extend(self._drained_versions(conn, at))
            self._next_scan = at + SCAN_SECONDS
        self._settle(conn, touched, at, finished)
        claimed = self._claim(conn, at)
        if self._events:
            sql.EVENTS.many(conn, self._events)
        next_due = self._next_due(conn, at) if scan or not claimed else SCAN_SECONDS
        return claimed, next_due


def new_host_id() -> str:
    """A fresh host id."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

