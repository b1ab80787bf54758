"""The scheduler's outcomes role: record what attempts returned, decide what comes next.

`Outcomes` applies an attempt's outcome (success, failure and retry,
suspension, cancellation, continue-as-new), makes the tasks after it ready
or skipped, and settles executions that have nothing left to run. Its
methods run inside the scheduler's turn transaction; `Scheduler` owns the
state declared here.
"""

from __future__ import annotations

import json
import random
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, select, update

from wfhost.store import _sql as sql
from wfhost.store._db import E, J, T, W, dumps
from wfpkg import TriggerRule
from wfpkg.protocol import ACTIVE_EXECUTION, TERMINAL_EXECUTION, TaskOutcome
from wfregistry.inflight import Attempt

from .catalog import Catalog
from .executions import request_cancel
from .plans import WorkflowPlan, merge_inputs
from .waits import resolve_waits

__all__ = ["Outcomes"]

_ACTIVE = sorted(ACTIVE_EXECUTION)


class Outcomes:
    """Outcomes, propagation and settling (a part of `Scheduler`; state set by its constructor)."""

    engine: Engine
    catalog: Catalog
    host_id: str
    _executions: dict[str, Any]
    _events: list[dict[str, Any]]
    _outputs: dict[tuple[str, str], str]  # outputs recorded in this turn, by (uid, task id)
    _rng: random.Random

    def wake(self, scan: bool = True) -> None:
        raise NotImplementedError

    def _release_task(self, uid: str, task_id: str) -> None:
        raise NotImplementedError

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

    def _apply(self, conn: Connection, run: Attempt, outcome: TaskOutcome, at: float,
               touched: set[str]) -> None:
        key = {"u": run.uid, "t": run.task_id, "a": run.attempt}
        status = outcome.status
        if status == "succeeded":
            output = dumps(outcome.output)
            if not sql.SUCCEED.run(conn, {**key, "o": output, "at": at}).rowcount:
                return  # a stale attempt: timed out, cancelled or recovered meanwhile
            self._outputs[(run.uid, run.task_id)] = output  # the tasks it makes ready need it
            touched.add(run.uid)
            self._event(run.uid, "task_succeeded", run.task_id, at, attempt=run.attempt)
            # The attempt names its plan: no read of the execution's row on the hot path.
            plan = self.catalog.plan(run.package_version_id, run.tenant, run.package,
                                     run.request.workflow)
            self._propagate(conn, run.uid, run.task_id, "succeeded", at, plan)
            return
        if sql.CURRENT.run(conn, key).first() is None:
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

    def _propagate(self, conn: Connection, uid: str, task_id: str, state: str, at: float,
                   plan: WorkflowPlan | None = None) -> None:
        """Make dependents of a finished task ready, or skip those that can no longer run.

        Costs O(dependents) per finished task, not O(fan-in): a task with one
        dependency is decided by that dependency's state alone; one with more
        counts them down in ``deps_left`` and reads their states once, when
        the last finishes (or at once when a failure decides it).
        """
        if plan is None:
            plan, _ = self._plan(conn, uid)
        frontier = [(task_id, state)]
        while frontier:
            done, done_state = frontier.pop(0)
            single: list[str] = []
            multi: list[str] = []
            for d in plan.dependents[done]:
                (single if len(plan.tasks[d].depends_on) == 1 else multi).append(d)
            decide: list[tuple[str, dict[str, str]]] = [(d, {done: done_state}) for d in single]
            if multi:
                left: dict[str, int | None] = {
                    r.task_id: r.deps_left
                    for r in sql.DEPENDENCY_DONE.run(conn, {"u": uid, "ids": multi})
                    if r.state == "pending"}
                for d in multi:
                    if d not in left:
                        continue  # no longer pending
                    task, remaining = plan.tasks[d], left[d]
                    if remaining is None or remaining <= 0 or (
                            task.trigger is TriggerRule.ALL_SUCCESS and done_state != "succeeded"):
                        decide.append((d, dict(sql.STATES.run(conn, {"u": uid, "ids": list(task.depends_on)}).all())))
            decide.sort(key=lambda item: plan.tasks[item[0]].position)
            ready: list[dict[str, Any]] = []
            for d, states in decide:
                task = plan.tasks[d]
                verdict = task.decide(states)
                if verdict is None:
                    continue
                if verdict == "ready" and task.when is not None:
                    if not task.when.holds(self._merged(conn, uid, self._execution(conn, uid).input,
                                                        plan, d)):
                        verdict = "skipped"
                if verdict == "ready":
                    ready.append({"u": uid, "t": d, "at": at})
                elif sql.SKIP.run(conn, {"u": uid, "t": d, "at": at}).rowcount:
                    self._event(uid, "task_skipped", d, at)
                    frontier.append((d, "skipped"))
            sql.MAKE_READY.many(conn, ready)  # a fan-out's tasks in one executemany

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
        """Finish executions with no task left to run; keep running/waiting status current.

        One statement for all of them: per execution its status, and whether
        any task is running or ready, waiting, or pending (index seeks, whatever
        its number of tasks).
        """
        while touched:  # finishing a child touches its parent: settle that next
            batch = sorted(touched)
            touched.clear()
            for s in sql.SETTLE.run(conn, {"uids": batch}):
                if s.status in TERMINAL_EXECUTION:
                    continue
                if s.busy or s.waiting or s.pending:
                    # Waiting: nothing can run until a wait is satisfied (pending tasks are behind it).
                    status = "waiting" if s.waiting and not s.busy else "running"
                    if status != s.status:
                        sql.SET_STATUS.run(conn, {"s": status, "u": s.uid})
                        cached = self._executions.get(s.uid)
                        if cached is not None:
                            self._executions[s.uid] = cached._replace(status=status)
                    continue
                self._finish(conn, self._execution(conn, s.uid), at, touched, finished)

    def _finish(self, conn: Connection, ex: Any, at: float, touched: set[str],
                finished: list[tuple[str, str, str, str, str]]) -> None:
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
        elif any(r.state == "failed" for r in rows.values()):
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
                    E.c.parent_uid == ex.uid, E.c.status.in_(_ACTIVE))):
                request_cancel(conn, ex.tenant, child.id, f"parent {ex.id}", status, at)
                self.wake(scan=True)
        if ex.parent_uid:
            parent = conn.execute(select(E.c.tenant, E.c.status).where(E.c.uid == ex.parent_uid)).first()
            if parent is not None and parent.status not in TERMINAL_EXECUTION:
                if resolve_waits(conn, parent.tenant, ex.parent_uid, at):
                    touched.add(ex.parent_uid)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else dumps(value)
