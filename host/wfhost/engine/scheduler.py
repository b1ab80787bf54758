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

import json
import logging
import os
import random
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from wfhost.store import _sql as sql
from wfhost.store._db import EV, E, H, J, T, W, dumps, now
from wfhost.store.engine import skip_locked
from wfhost.store.models import ACTIVE_EXECUTION, TERMINAL_EXECUTION, TERMINAL_TASK
from wfpkg.protocol import JournalEntry, OutcomeStatus, TaskOutcome, TaskRequest, decode_result
from wfregistry.inflight import Attempt, InFlight

from .catalog import Catalog
from .dispatch import Dispatcher
from .executions import request_cancel
from .notify import host_alive
from .plans import WorkflowPlan, merge_inputs
from .waits import resolve_waits

__all__ = ["Scheduler"]

log = logging.getLogger("wfhost.scheduler")

_ACTIVE = sorted(ACTIVE_EXECUTION)
HEARTBEAT_SECONDS = 2.0
DRAIN_SECONDS = 5.0
SCAN_SECONDS = 1.0


class Scheduler:
    """Runs executions durably against the store.

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
                 on_change: Callable[[], object] | None = None) -> None:
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
                                     load_timeout=load_timeout)
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

    # -- signals from other threads -------------------------------------------------

    def _outcome(self, run: Attempt, outcome: TaskOutcome) -> None:
        self._outcomes.append((run, outcome))
        self._wake.set()

    def _changed(self) -> None:
        self.wake(scan=True)
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

    def turn(self) -> float:
        """One transaction of scheduling work; returns seconds until something falls due."""
        at = now()
        outcomes: list[tuple[Attempt, TaskOutcome]] = []
        while self._outcomes:
            outcomes.append(self._outcomes.popleft())
        # Scan when asked, once a second, and whenever something fell due (a timer, a
        # backoff, a deadline): the loop slept exactly until then.
        scan = self._scan_requested or at >= self._next_scan or at >= self._next_due_at
        self._scan_requested = False
        finished: list[tuple[str, str, str, str, str]] = []
        cancels: list[tuple[str, str, str]] = []
        drained: list[Any] = []
        self._executions: dict[str, Any] = {}
        self._events: list[dict[str, Any]] = []
        try:
            claimed, next_due = self._transaction(outcomes, at, scan, finished, cancels, drained)
        except BaseException:
            # Rolled back: nothing happened. Restore what this turn consumed for the next one.
            self._outcomes.extendleft(reversed(outcomes))
            raise
        self._next_due_at = at + next_due
        for _uid, tenant, eid in cancels:
            self.dispatcher.cancel(tenant, eid)
        for version in drained:
            self.dispatcher.stop_version(version.tenant, version.name, version.version)
            if self.catalog.registry is not None:  # every host purges its own copy
                self.catalog.registry.purge(version.id)
        for run in claimed:
            self.dispatcher.submit(run)
        for uid, tenant, eid, workflow, status in finished:
            self.dispatcher.forget(tenant, eid)
            for fn in self._finished_listeners:
                fn(uid, status)
            if self._on_finished:
                self._on_finished(tenant, eid, workflow, status)
        if finished:
            self._notify_others()
        return next_due

    def _transaction(self, outcomes: list[tuple[Attempt, TaskOutcome]], at: float, scan: bool,
                     finished: list[tuple[str, str, str, str, str]],
                     cancels: list[tuple[str, str, str]],
                     drained: list[Any]) -> tuple[list[Attempt], float]:
        """The body of a turn, in one transaction; fills ``finished``, ``cancels``, ``drained``."""
        with self.engine.begin() as conn:
            touched: set[str] = set()
            if outcomes and self._skip_locked:
                # Several hosts may finish tasks of one execution at once: without this lock
                # each would read the others' tasks as still running, and a task depending
                # on both (or the execution's end) would never be decided. In uid order, so
                # that two hosts' turns cannot deadlock on each other.
                conn.execute(sql.LOCK_EXECUTIONS, {"uids": sorted({run.uid for run, _ in outcomes})})
            for run, outcome in outcomes:
                self._apply(conn, run, outcome, at, touched)
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
                conn.execute(insert(EV), self._events)
            next_due = self._next_due(conn, at) if scan or not claimed else SCAN_SECONDS
        return claimed, next_due

    # -- outcomes -----------------------------------------------------------------------

    def _execution(self, conn: Connection, uid: str) -> Any:
        ex = self._executions.get(uid)
        if ex is None:
            ex = self._executions[uid] = conn.execute(sql.EXECUTION, {"u": uid}).first()
        return ex

    def _plan(self, conn: Connection, uid: str) -> tuple[WorkflowPlan, Any]:
        ex = self._execution(conn, uid)
        return self.catalog.plan(ex.package_version_id, ex.tenant, ex.package, ex.workflow), ex

    def _event(self, uid: str, kind: str, task_id: str | None, at: float, **detail: Any) -> None:
        self._events.append({"execution_uid": uid, "at": at, "kind": kind, "task_id": task_id,
                             "detail": dumps(detail) if detail else None})

    def _apply(self, conn: Connection, run: Attempt, outcome: TaskOutcome, at: float,
               touched: set[str]) -> None:
        key = {"u": run.uid, "t": run.task_id, "a": run.attempt}
        status = outcome.status
        if status == "succeeded":
            if not conn.execute(sql.SUCCEED, {**key, "o": dumps(outcome.output), "at": at}).rowcount:
                return  # a stale attempt: timed out, cancelled or recovered meanwhile
            touched.add(run.uid)
            self._event(run.uid, "task_succeeded", run.task_id, at, attempt=run.attempt)
            self._propagate(conn, run.uid, [run.task_id], at)
            return
        if conn.execute(sql.CURRENT, key).first() is None:
            return  # stale, as above
        touched.add(run.uid)
        where = and_(T.c.execution_uid == run.uid, T.c.task_id == run.task_id)
        if status == "failed":
            self._fail(conn, run.uid, run.task_id, run.attempt, outcome, at)
        elif status == "suspended":
            still_open = conn.execute(select(func.count()).select_from(W).where(
                W.c.execution_uid == run.uid, W.c.task_id == run.task_id,
                W.c.status == "open")).scalar_one()
            state = "waiting" if still_open else "ready"
            conn.execute(update(T).where(where).values(
                state=state, lease_owner=None, deadline=None, not_before=at,
                attempt=run.attempt - 1))  # waiting is not a failed attempt
            self._event(run.uid, "task_waiting", run.task_id, at, waiting_for=outcome.waiting_for)
        elif status == "cancelled":
            conn.execute(update(T).where(where).values(
                state="cancelled", finished_at=at, lease_owner=None, error=outcome.error))
            self._event(run.uid, "task_cancelled", run.task_id, at)
            self._propagate(conn, run.uid, [run.task_id], at)
        elif status == "continue_as_new":
            self._restart(conn, run.uid, outcome.output, at, "continued_as_new")

    def _fail(self, conn: Connection, uid: str, task_id: str, attempt: int, outcome: TaskOutcome,
              at: float) -> None:
        plan, _ = self._plan(conn, uid)
        policy = plan.tasks[task_id].retry
        where = and_(T.c.execution_uid == uid, T.c.task_id == task_id)
        if outcome.retryable and attempt < policy.attempts:
            delay = policy.delay(attempt, self._rng)
            conn.execute(update(T).where(where).values(
                state="ready", not_before=at + delay, error=outcome.error, lease_owner=None,
                deadline=None, detail=_text(outcome.detail)))
            self._event(uid, "task_retrying", task_id, at, attempt=attempt,
                      error=outcome.error, delay=round(delay, 3))
            return
        conn.execute(update(T).where(where).values(
            state="failed", error=outcome.error, detail=_text(outcome.detail), finished_at=at,
            lease_owner=None, deadline=None))
        self._event(uid, "task_failed", task_id, at, attempt=attempt, error=outcome.error)
        self._propagate(conn, uid, [task_id], at)

    def _propagate(self, conn: Connection, uid: str, finished: Iterable[str], at: float) -> None:
        """Make dependents of finished tasks ready, or skip those that can no longer run."""
        plan, ex = self._plan(conn, uid)
        frontier = list(finished)
        while frontier:
            candidates = sorted({d for f in frontier for d in plan.dependents[f]},
                                key=lambda t: plan.tasks[t].position)
            frontier = []
            if not candidates:
                break
            needed = {d for c in candidates for d in plan.tasks[c].depends_on} | set(candidates)
            states: dict[str, str] = dict(conn.execute(sql.STATES, {"u": uid, "ids": sorted(needed)}).all())
            for task_id in candidates:
                if states.get(task_id) != "pending":
                    continue
                verdict = plan.tasks[task_id].decide(states)
                if verdict is None:
                    continue
                when = plan.tasks[task_id].when
                if verdict == "ready" and when is not None:
                    if not when.holds(self._merged(conn, uid, ex.input, plan, task_id)):
                        verdict = "skipped"
                if verdict == "ready":
                    conn.execute(sql.MAKE_READY, {"u": uid, "t": task_id, "at": at})
                else:
                    conn.execute(update(T).where(
                        T.c.execution_uid == uid, T.c.task_id == task_id, T.c.state == "pending"
                    ).values(state="skipped", finished_at=at))
                    self._event(uid, "task_skipped", task_id, at)
                    frontier.append(task_id)
                states[task_id] = verdict

    def _merged(self, conn: Connection, uid: str, execution_input: str, plan: WorkflowPlan,
                task_id: str) -> dict[str, Any]:
        deps = plan.tasks[task_id].depends_on
        outputs: dict[str, str | None] = dict(conn.execute(select(T.c.task_id, T.c.output).where(
            T.c.execution_uid == uid, T.c.task_id.in_(deps))).all()) if deps else {}
        return merge_inputs(execution_input, [outputs.get(d) for d in deps])

    def _restart(self, conn: Connection, uid: str, new_input: dict[str, Any] | None, at: float,
                 why: str) -> None:
        """Continue-as-new (fresh input) or a child retry (same input): empty journal, roots ready."""
        plan, ex = self._plan(conn, uid)
        conn.execute(delete(J).where(J.c.execution_uid == uid))
        conn.execute(delete(W).where(W.c.execution_uid == uid))
        conn.execute(update(T).where(T.c.execution_uid == uid).values(
            state="pending", attempt=0, not_before=at, lease_owner=None, deadline=None,
            output=None, error=None, detail=None, waiting_for=None, started_at=None,
            finished_at=None))
        conn.execute(update(T).where(T.c.execution_uid == uid, T.c.task_id.in_(plan.roots))
                     .values(state="ready"))
        values: dict[str, Any] = {"run_no": ex.run_no + 1, "status": "running", "error": None}
        if new_input is not None:
            values["input"] = dumps(new_input)
        else:
            values["retries_left"] = ex.retries_left - 1
        conn.execute(update(E).where(E.c.uid == uid).values(**values))
        self._executions.pop(uid, None)
        self._event(uid, why, None, at, run=ex.run_no + 1)

    # -- settling executions -----------------------------------------------------------

    def _settle(self, conn: Connection, touched: set[str], at: float,
                finished: list[tuple[str, str, str, str, str]]) -> None:
        """Finish executions with no task left to run; keep running/waiting status current."""
        while touched:
            uid = touched.pop()
            counts: dict[str, int] = dict(conn.execute(sql.COUNTS, {"u": uid}).all())
            ex = self._execution(conn, uid)
            if ex is None or ex.status in TERMINAL_EXECUTION:
                continue
            live = sum(n for s, n in counts.items() if s not in TERMINAL_TASK)
            if live:
                # Waiting: nothing can run until a wait is satisfied (pending tasks are behind it).
                idle = counts.get("waiting") and not (counts.get("running") or counts.get("ready"))
                status = "waiting" if idle else "running"
                if status != ex.status:
                    conn.execute(sql.SET_STATUS, {"s": status, "u": uid})
                continue
            self._finish(conn, ex, counts, at, touched, finished)

    def _finish(self, conn: Connection, ex: Any, counts: dict[str, int], at: float,
                touched: set[str], finished: list[tuple[str, str, str, str, str]]) -> None:
        plan = self.catalog.plan(ex.package_version_id, ex.tenant, ex.package, ex.workflow)
        rows = {r.task_id: r for r in conn.execute(sql.TASK_RESULTS, {"u": ex.uid})}
        output: dict[str, Any] = {}
        error = None
        for task_id in plan.order:
            r = rows[task_id]
            if r.state == "succeeded" and r.output:
                output.update(json.loads(r.output))
            if r.state == "failed" and error is None:
                error = f"task {task_id!r} failed after {r.attempt} attempt(s): {r.error}"
        if ex.cancel_requested and ex.cancelled_by == "timeout":
            status, error = "failed", f"execution exceeded its timeout of {ex.timeout:g}s"
        elif ex.cancel_requested:
            status, error = "cancelled", f"cancelled by {ex.cancelled_by}"
        elif counts.get("failed"):
            status = "failed"
        else:
            status = "succeeded"
        if status == "failed" and ex.retries_left > 0 and not ex.cancel_requested:
            self._restart(conn, ex.uid, None, at, "retried")
            return
        conn.execute(sql.FINISH, {"u": ex.uid, "s": status, "e": error, "at": at,
                                   "o": dumps(output) if status == "succeeded" else None})
        self._executions.pop(ex.uid, None)
        self._event(ex.uid, f"execution_{status}", None, at, error=error)
        finished.append((ex.uid, ex.tenant, ex.id, f"{ex.package}::{ex.workflow}", status))
        if status != "succeeded":  # policy: a failed or cancelled parent cancels its children
            for child in conn.execute(select(E.c.id).where(
                    E.c.parent_uid == ex.uid, E.c.status.in_(_ACTIVE))):
                request_cancel(conn, ex.tenant, child.id, f"parent {ex.id}", status, at)
                self.wake(scan=True)
        if ex.parent_uid:
            parent = conn.execute(select(E.c.tenant, E.c.status).where(E.c.uid == ex.parent_uid)).first()
            if parent is not None and parent.status not in TERMINAL_EXECUTION:
                if resolve_waits(conn, parent.tenant, ex.parent_uid, at):
                    touched.add(ex.parent_uid)

    # -- scans --------------------------------------------------------------------------

    def _heartbeat(self, conn: Connection, at: float) -> None:
        conn.execute(update(H).where(H.c.id == self.host_id).values(heartbeat_at=at))
        self._next_heartbeat = at + HEARTBEAT_SECONDS
        # Recover attempts leased by hosts that are gone: at-least-once for task bodies.
        hosts = conn.execute(select(H.c.id, H.c.hostname, H.c.pid, H.c.heartbeat_at, H.c.stopped)).all()
        live = [h.id for h in hosts if h.id == self.host_id or host_alive(h, at)]
        orphans = conn.execute(select(T.c.execution_uid, T.c.task_id).where(
            T.c.state == "running",
            or_(T.c.lease_owner.is_(None), T.c.lease_owner.not_in(live)))).all()
        for o in orphans:
            conn.execute(update(T).where(T.c.execution_uid == o.execution_uid,
                                         T.c.task_id == o.task_id, T.c.state == "running")
                         .values(state="ready", attempt=T.c.attempt - 1, lease_owner=None,
                                 not_before=at, deadline=None))
            self._event(o.execution_uid, "task_recovered", o.task_id, at)
        forgotten = [h.id for h in hosts if h.id not in live and h.heartbeat_at < at - 3600]
        if forgotten:
            conn.execute(delete(H).where(H.c.id.in_(forgotten)))

    def _fire_timers(self, conn: Connection, at: float, touched: set[str]) -> None:
        due = conn.execute(select(W.c.execution_uid, E.c.tenant).distinct().select_from(
            W.join(E, E.c.uid == W.c.execution_uid)).where(
            W.c.status == "open", W.c.due_at <= at)).all()
        for row in due:
            if resolve_waits(conn, row.tenant, row.execution_uid, at):
                touched.add(row.execution_uid)

    def _expire_tasks(self, conn: Connection, at: float, touched: set[str]) -> None:
        late = conn.execute(select(T.c.execution_uid, T.c.task_id, T.c.attempt).where(
            T.c.state == "running", T.c.lease_owner == self.host_id, T.c.deadline <= at)).all()
        for row in late:
            run = self.inflight.find(row.execution_uid, row.task_id)
            if run is not None:  # given up: its capacity is free, its late outcome is stale
                self.inflight.finish(run.run_id)
            plan, _ = self._plan(conn, row.execution_uid)
            limit = plan.tasks[row.task_id].timeout
            touched.add(row.execution_uid)
            self._fail(conn, row.execution_uid, row.task_id, row.attempt, TaskOutcome(
                OutcomeStatus.FAILED, error=f"TaskTimeout: attempt {row.attempt} exceeded the task timeout "
                                f"of {limit:g}s", retryable=True), at)
        expired = conn.execute(select(E.c.uid, E.c.tenant, E.c.id).where(
            E.c.status.in_(_ACTIVE), E.c.deadline <= at,
            E.c.cancel_requested.is_(False))).all()
        for ex in expired:
            conn.execute(update(E).where(E.c.uid == ex.uid).values(
                cancel_requested=True, cancelled_by="timeout"))
            self._executions.pop(ex.uid, None)
            self._event(ex.uid, "execution_timed_out", None, at)

    def _apply_cancellations(self, conn: Connection, at: float,
                             touched: set[str]) -> list[tuple[str, str, str]]:
        rows = conn.execute(select(E.c.uid, E.c.tenant, E.c.id).where(
            E.c.cancel_requested.is_(True),
            E.c.status.in_(_ACTIVE))).all()
        out = []
        for ex in rows:
            # Running attempts are cancelled too: their threads cannot be killed, but they
            # see ctx.is_cancelled, get Cancelled at their next durable call, and whatever
            # they return later is discarded as stale.
            stopped = conn.execute(update(T).where(
                T.c.execution_uid == ex.uid,
                T.c.state.in_(("pending", "ready", "waiting", "running"))
            ).values(state="cancelled", finished_at=at, waiting_for=None,
                     lease_owner=None)).rowcount
            conn.execute(update(W).where(W.c.execution_uid == ex.uid, W.c.status == "open")
                         .values(status="cancelled"))
            if stopped:
                self._event(ex.uid, "tasks_cancelled", None, at, count=stopped)
            for child in conn.execute(select(E.c.id).where(
                    E.c.parent_uid == ex.uid, E.c.status.in_(_ACTIVE),
                    E.c.cancel_requested.is_(False))):
                request_cancel(conn, ex.tenant, child.id, f"parent {ex.id}", "parent cancelled", at)
                self.wake(scan=True)
            touched.add(ex.uid)
            out.append((ex.uid, ex.tenant, ex.id))
        return out

    def _drained_versions(self, conn: Connection, at: float) -> list[Any]:
        """Retired package versions that no unfinished execution uses any more."""
        if self.catalog.registry is None or at < self._next_drain:
            return []
        self._next_drain = at + DRAIN_SECONDS
        rows = conn.execute(sql.RETIRED).all()
        registry = self.catalog.registry
        return [r for r in rows if registry.install_dir(r.tenant, r.name, r.version).exists()]

    # -- claiming -----------------------------------------------------------------------

    def _claim(self, conn: Connection, at: float) -> list[Attempt]:
        room = self.max_concurrency - self.inflight.count()
        if room <= 0:
            return []
        limit = room * 2 if self.tenant_concurrency else room
        q = text(sql.READY + (" FOR UPDATE OF t SKIP LOCKED" if self._skip_locked else ""))
        rows = conn.execute(q, {"at": at, "n": limit}).all()
        picked: list[Any] = []
        tenant_running = self.inflight.per_tenant() if self.tenant_concurrency is not None else {}
        for r in rows:
            if len(picked) >= room:
                break
            if self.tenant_concurrency is not None:
                if tenant_running.get(r.tenant, 0) >= self.tenant_concurrency:
                    continue
                tenant_running[r.tenant] = tenant_running.get(r.tenant, 0) + 1
            picked.append(r)
        if not picked:
            return []
        plans = {}
        for r in picked:
            key = (r.package_version_id, r.tenant, r.package, r.workflow)
            if key not in plans:
                plans[key] = self.catalog.plan(*key)
        def deadline(r: Any) -> float | None:
            limit = plans[(r.package_version_id, r.tenant, r.package, r.workflow)].tasks[r.task_id].timeout
            return at + limit if limit else None

        conn.execute(sql.CLAIM, [{"h": self.host_id, "s": at, "d": deadline(r),
                                   "u": r.execution_uid, "t": r.task_id} for r in picked])
        starting = sorted({r.execution_uid for r in picked if r.status != "running"})
        if starting:
            conn.execute(sql.START_EXECUTIONS, {"at": at, "uids": starting})
        # Upstream outputs and journals of the whole batch.
        wanted: dict[str, set[str]] = {}
        for r in picked:
            plan = plans[(r.package_version_id, r.tenant, r.package, r.workflow)]
            wanted.setdefault(r.execution_uid, set()).update(plan.tasks[r.task_id].depends_on)
        outputs = {}
        for uid, ids in wanted.items():
            if ids:
                for o in conn.execute(sql.OUTPUTS, {"u": uid, "ids": sorted(ids)}):
                    outputs[(uid, o.task_id)] = o.output
        mine = {(r.execution_uid, r.task_id) for r in picked}
        journals: dict[tuple[str, str], list[JournalEntry]] = {}
        for j in conn.execute(sql.JOURNALS, {"uids": sorted(wanted)}):
            if (j.execution_uid, j.task_id) in mine:
                journals.setdefault((j.execution_uid, j.task_id), []).append(
                    JournalEntry(j.seq, j.kind, j.name, decode_result(j.kind, json.loads(j.result))))
        claimed = []
        for r in picked:
            plan = plans[(r.package_version_id, r.tenant, r.package, r.workflow)]
            deps = plan.tasks[r.task_id].depends_on
            request = TaskRequest(
                run_id=uuid.uuid4().hex, tenant=r.tenant, execution_id=r.id, workflow=r.workflow,
                task_id=r.task_id, attempt=r.attempt + 1,
                input=merge_inputs(r.input, [outputs.get((r.execution_uid, d)) for d in deps]),
                journal=journals.get((r.execution_uid, r.task_id), []))
            claimed.append(Attempt(request, r.execution_uid, r.package, r.version, r.package_version_id))
        for r in picked:
            self._event(r.execution_uid, "task_started", r.task_id, at, attempt=r.attempt + 1,
                        host=self.host_id)
        return claimed

    def _next_due(self, conn: Connection, at: float) -> float:
        """Seconds until the next timer, backoff, attempt deadline or execution deadline."""
        row = conn.execute(sql.NEXT_DUE, {"at": at, "h": self.host_id}).one()
        due = [c for c in row if c is not None]
        return max(0.0, min(due) - at) if due else SCAN_SECONDS


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else dumps(value)


def new_host_id() -> str:
    """A fresh host id."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

