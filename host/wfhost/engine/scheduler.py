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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)

from wfhost.store import _sql as sql
from wfhost.store._db import E, H, J, T, W, dumps, now
from wfhost.store.engine import skip_locked
from wfhost.store.models import TERMINAL_TASK
from wfpkg import TriggerRule
from wfpkg.runner import TaskOutcome, TaskRequest

from .catalog import Catalog
from .dispatch import Dispatcher
from .durable import RunRef
from .executions import request_cancel
from .notify import host_alive
from .plans import WorkflowPlan, merge_inputs
from .waits import resolve_waits

__all__ = ["Scheduler"]

log = logging.getLogger("wfhost.scheduler")

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
        self.dispatcher = Dispatcher(catalog, self.calls, self._outcome,
                                     threads=threads or max_concurrency, log_dir=log_dir,
                                     load_timeout=load_timeout)
        self._skip_locked = skip_locked(engine)
        self._outcomes: deque[tuple[RunRef, TaskOutcome]] = deque()
        self._wake = threading.Event()
        self._scan_requested = True
        self._running: dict[str, RunRef] = {}
        self._tenant_running: dict[str, int] = {}
        self._next_scan = 0.0
        self._next_heartbeat = 0.0
        self._next_drain = 0.0
        self._next_due_at = 0.0
        self._rng = random.Random()
        self._finished_listeners: list[Callable[[str, str], None]] = []
        self._lock = threading.Lock()

    # -- signals from other threads -------------------------------------------------

    def _outcome(self, run: RunRef, outcome: TaskOutcome) -> None:
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
        return len(self._running)

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
        outcomes: list[tuple[RunRef, TaskOutcome]] = []
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
        running, tenant_running = dict(self._running), dict(self._tenant_running)
        try:
            claimed, next_due = self._transaction(outcomes, at, scan, finished, cancels, drained)
        except BaseException:
            # Rolled back: nothing happened. Restore what this turn consumed for the next one.
            self._running, self._tenant_running = running, tenant_running
            self._outcomes.extendleft(reversed(outcomes))
            raise
        self._next_due_at = at + next_due
        for uid, tenant, eid in cancels:
            self.dispatcher.cancel(uid, tenant, eid)
        for version in drained:
            self.dispatcher.stop_version(version.tenant, version.name, version.version)
            if self.catalog.registry is not None and Path(version.install_dir).exists():
                self.catalog.registry.purge(version.id)
        for run, request in claimed:
            self.dispatcher.submit(run, request)
        for uid, tenant, eid, workflow, status in finished:
            self.dispatcher.forget(uid)
            for fn in self._finished_listeners:
                fn(uid, status)
            if self._on_finished:
                self._on_finished(tenant, eid, workflow, status)
        if finished:
            self._notify_others()
        return next_due

    def _transaction(self, outcomes: list[tuple[RunRef, TaskOutcome]], at: float, scan: bool,
                     finished: list[tuple[str, str, str, str, str]],
                     cancels: list[tuple[str, str, str]],
                     drained: list[Any]) -> tuple[list[tuple[RunRef, TaskRequest]], float]:
        """The body of a turn, in one transaction; fills ``finished``, ``cancels``, ``drained``."""
        with self.engine.begin() as conn:
            touched: set[str] = set()
            for run, outcome in outcomes:
                self._release(run)
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
                sql.EVENTS.many(conn, self._events)
            next_due = self._next_due(conn, at) if scan or not claimed else SCAN_SECONDS
        return claimed, next_due

    def _release(self, run: RunRef) -> None:
        if self._running.pop(run.run_id, None) is not None:
            self._tenant_running[run.tenant] -= 1

    # -- outcomes -----------------------------------------------------------------------

    def _execution(self, conn: Connection, uid: str) -> Any:
        ex = self._executions.get(uid)
        if ex is None:
            ex = self._executions[uid] = sql.EXECUTION.run(conn, {"u": uid}).first()
        return ex

    def _plan(self, conn: Connection, uid: str) -> tuple[WorkflowPlan, Any]:
        ex = self._execution(conn, uid)
        return self.catalog.plan(ex.package_version_id, ex.tenant, ex.package, ex.workflow), ex

    def _event(self, uid: str, kind: str, task_id: str | None, at: float, **detail: Any) -> None:
        self._events.append({"execution_uid": uid, "at": at, "kind": kind, "task_id": task_id,
                             "detail": dumps(detail) if detail else None})

    def _apply(self, conn: Connection, run: RunRef, outcome: TaskOutcome, at: float,
               touched: set[str]) -> None:
        key = {"u": run.uid, "t": run.task_id, "a": run.attempt}
        status = outcome.status
        if status == "succeeded":
            if not sql.SUCCEED.run(conn, {**key, "o": dumps(outcome.output), "at": at}).rowcount:
                return  # a stale attempt: timed out, cancelled or recovered meanwhile
            touched.add(run.uid)
            self._event(run.uid, "task_succeeded", run.task_id, at, attempt=run.attempt)
            self._propagate(conn, run.uid, run.task_id, "succeeded", at)
            return
        if sql.CURRENT.run(conn, key).first() is None:
            return  # stale, as above
        touched.add(run.uid)
        where = and_(T.c.execution_uid == run.uid, T.c.task_id == run.task_id)
        if status == "succeeded":
            pass
        elif status == "failed":
            self._fail(conn, run.uid, run.task_id, run.attempt, outcome, at)
        elif status == "suspended":
            still_open = conn.execute(select(func.count()).select_from(W).where(
                W.c.execution_uid == run.uid, W.c.task_id == run.task_id,
                W.c.status == "open")).scalar_one()
            state = "waiting" if still_open else "ready"
            conn.execute(update(T).where(where).values(
                state=state, lease_owner=None, deadline=None, not_before=at,
                attempt=run.attempt - 1))  # waiting is not a failed attempt
            detail = (outcome.detail or {}).get("waiting_for") if isinstance(outcome.detail, dict) else None
            self._event(run.uid, "task_waiting", run.task_id, at, waiting_for=detail)
        elif status == "cancelled":
            conn.execute(update(T).where(where).values(
                state="cancelled", finished_at=at, lease_owner=None, error=outcome.error))
            self._event(run.uid, "task_cancelled", run.task_id, at)
            self._propagate(conn, run.uid, run.task_id, "cancelled", at)
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
        self._propagate(conn, uid, task_id, "failed", at)

    def _propagate(self, conn: Connection, uid: str, task_id: str, state: str, at: float) -> None:
        """Make dependents of a finished task ready, or skip those that can no longer run.

        Costs O(dependents) per finished task, not O(fan-in): a task with one
        dependency is decided by that dependency's state alone; one with more
        counts them down in ``deps_left`` and reads their states once, when
        the last finishes (or at once when a failure decides it).
        """
        plan, ex = self._plan(conn, uid)
        frontier = [(task_id, state)]
        while frontier:
            done, done_state = frontier.pop(0)
            single: list[str] = []
            multi: list[str] = []
            for d in plan.dependents[done]:
                (single if len(plan.tasks[d].depends_on) == 1 else multi).append(d)
            decide: list[tuple[str, dict[str, str]]] = [(d, {done: done_state}) for d in single]
            if multi:
                left: dict[str, int | None] = dict(sql.DEPENDENCY_DONE.run(conn, {"u": uid, "ids": multi}).all())
                for d in multi:
                    if d not in left:
                        continue  # no longer pending
                    task, remaining = plan.tasks[d], left[d]
                    if remaining is None or remaining <= 0 or (
                            task.trigger is TriggerRule.ALL_SUCCESS and done_state != "succeeded"):
                        decide.append((d, dict(sql.STATES.run(conn, {"u": uid, "ids": list(task.depends_on)}).all())))
            decide.sort(key=lambda item: plan.tasks[item[0]].position)
            for d, states in decide:
                task = plan.tasks[d]
                verdict = task.decide(states)
                if verdict is None:
                    continue
                if verdict == "ready" and task.when is not None:
                    if not task.when.holds(self._merged(conn, uid, ex.input, plan, d)):
                        verdict = "skipped"
                if verdict == "ready":
                    sql.MAKE_READY.run(conn, {"u": uid, "t": d, "at": at})
                elif sql.SKIP.run(conn, {"u": uid, "t": d, "at": at}).rowcount:
                    self._event(uid, "task_skipped", d, at)
                    frontier.append((d, "skipped"))

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
        counted = [{"u": uid, "t": t.id, "n": len(t.depends_on)}
                   for t in plan.tasks.values() if len(t.depends_on) > 1]
        if counted:
            sql.SET_DEPS_LEFT.many(conn, counted)
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
            counts: dict[str, int] = dict(sql.COUNTS.run(conn, {"u": uid}).all())
            ex = self._execution(conn, uid)
            if ex is None or ex.status in ("succeeded", "failed", "cancelled"):
                continue
            live = sum(n for s, n in counts.items() if s not in TERMINAL_TASK)
            if live:
                # Waiting: nothing can run until a wait is satisfied (pending tasks are behind it).
                idle = counts.get("waiting") and not (counts.get("running") or counts.get("ready"))
                status = "waiting" if idle else "running"
                if status != ex.status:
                    sql.SET_STATUS.run(conn, {"s": status, "u": uid})
                continue
            self._finish(conn, ex, counts, at, touched, finished)

    def _finish(self, conn: Connection, ex: Any, counts: dict[str, int], at: float,
                touched: set[str], finished: list[tuple[str, str, str, str, str]]) -> None:
        plan = self.catalog.plan(ex.package_version_id, ex.tenant, ex.package, ex.workflow)
        rows = {r.task_id: r for r in sql.TASK_RESULTS.run(conn, {"u": ex.uid})}
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
        sql.FINISH.run(conn, {"u": ex.uid, "s": status, "e": error, "at": at,
                                   "o": dumps(output) if status == "succeeded" else None})
        self._executions.pop(ex.uid, None)
        self._event(ex.uid, f"execution_{status}", None, at, error=error)
        finished.append((ex.uid, ex.tenant, ex.id, f"{ex.package}::{ex.workflow}", status))
        if status != "succeeded":  # policy: a failed or cancelled parent cancels its children
            for child in conn.execute(select(E.c.id).where(
                    E.c.parent_uid == ex.uid, E.c.status.in_(("pending", "running", "waiting")))):
                request_cancel(conn, ex.tenant, child.id, f"parent {ex.id}", status, at)
                self.wake(scan=True)
        if ex.parent_uid:
            parent = conn.execute(select(E.c.tenant, E.c.status).where(E.c.uid == ex.parent_uid)).first()
            if parent is not None and parent.status not in ("succeeded", "failed", "cancelled"):
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
            run = next((r for r in self._running.values()
                        if r.uid == row.execution_uid and r.task_id == row.task_id), None)
            if run is not None:
                self._release(run)
            plan, _ = self._plan(conn, row.execution_uid)
            limit = plan.tasks[row.task_id].timeout
            touched.add(row.execution_uid)
            self._fail(conn, row.execution_uid, row.task_id, row.attempt, TaskOutcome(
                "failed", error=f"TaskTimeout: attempt {row.attempt} exceeded the task timeout "
                                f"of {limit:g}s", retryable=True), at)
        expired = conn.execute(select(E.c.uid, E.c.tenant, E.c.id).where(
            E.c.status.in_(("pending", "running", "waiting")), E.c.deadline <= at,
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
            E.c.status.in_(("pending", "running", "waiting")))).all()
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
                    E.c.parent_uid == ex.uid, E.c.status.in_(("pending", "running", "waiting")),
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
        rows = sql.RETIRED.run(conn).all()
        return [r for r in rows if Path(r.install_dir).exists()]

    # -- claiming -----------------------------------------------------------------------

    def _claim(self, conn: Connection, at: float) -> list[tuple[RunRef, TaskRequest]]:
        room = self.max_concurrency - len(self._running)
        if room <= 0:
            return []
        limit = room * 2 if self.tenant_concurrency else room
        ready = sql.READY_SKIP_LOCKED if self._skip_locked else sql.READY
        rows = ready.run(conn, {"at": at, "n": limit}).all()
        picked: list[Any] = []
        for r in rows:
            if len(picked) >= room:
                break
            if self.tenant_concurrency is not None:
                if self._tenant_running.get(r.tenant, 0) >= self.tenant_concurrency:
                    continue
            self._tenant_running[r.tenant] = self._tenant_running.get(r.tenant, 0) + 1
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

        sql.CLAIM.many(conn, [{"h": self.host_id, "s": at, "d": deadline(r),
                                   "u": r.execution_uid, "t": r.task_id} for r in picked])
        starting = sorted({r.execution_uid for r in picked if r.status != "running"})
        if starting:
            sql.START_EXECUTIONS.run(conn, {"at": at, "uids": starting})
        # Upstream outputs and journals of the whole batch.
        wanted: dict[str, set[str]] = {}
        for r in picked:
            plan = plans[(r.package_version_id, r.tenant, r.package, r.workflow)]
            wanted.setdefault(r.execution_uid, set()).update(plan.tasks[r.task_id].depends_on)
        outputs = {}
        for uid, ids in wanted.items():
            if ids:
                for o in sql.OUTPUTS.run(conn, {"u": uid, "ids": sorted(ids)}):
                    outputs[(uid, o.task_id)] = o.output
        # Only a task claimed before (since its execution last restarted) can have a journal.
        mine = {(r.execution_uid, r.task_id) for r in picked if r.started_at is not None}
        journals: dict[tuple[str, str], list[dict[str, Any]]] = {}
        resumed = sorted({uid for uid, _task in mine})
        for j in sql.JOURNALS.run(conn, {"uids": resumed}) if resumed else ():
            if (j.execution_uid, j.task_id) in mine:
                journals.setdefault((j.execution_uid, j.task_id), []).append(
                    {"seq": j.seq, "kind": j.kind, "name": j.name, "result": json.loads(j.result)})
        claimed = []
        for r in picked:
            plan = plans[(r.package_version_id, r.tenant, r.package, r.workflow)]
            deps = plan.tasks[r.task_id].depends_on
            run = RunRef(uuid.uuid4().hex, r.execution_uid, r.tenant, r.id, r.task_id,
                         r.attempt + 1, r.package, r.version, r.package_version_id, r.workflow)
            request = TaskRequest(
                run_id=run.run_id, tenant=r.tenant, execution_id=r.id, workflow=r.workflow,
                task_id=r.task_id, attempt=r.attempt + 1,
                input=merge_inputs(r.input, [outputs.get((r.execution_uid, d)) for d in deps]),
                journal=journals.get((r.execution_uid, r.task_id), []))
            self._running[run.run_id] = run
            claimed.append((run, request))
        for r in picked:
            self._event(r.execution_uid, "task_started", r.task_id, at, attempt=r.attempt + 1)
        return claimed

    def _next_due(self, conn: Connection, at: float) -> float:
        """Seconds until the next timer, backoff, attempt deadline or execution deadline."""
        row = sql.NEXT_DUE.run(conn, {"at": at, "h": self.host_id}).one()
        due = [c for c in row if c is not None]
        return max(0.0, min(due) - at) if due else SCAN_SECONDS


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else dumps(value)


def new_host_id() -> str:
    """A fresh host id."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

