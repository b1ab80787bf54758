"""Operations on executions that any process may perform in one transaction.

Clients, hosts and task backends all call these; each takes an open
connection (the caller owns the transaction) and returns plain data or the
typed results of `wfhost.results`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from wfhost.errors import Conflict, InvalidRequest, NotFound
from wfhost.results import Child, Event, Execution, ExecutionSummary, TaskRun
from wfhost.store import _sql as sql
from wfhost.store._db import EV, E, J, T, W, add_event, dumps
from wfpkg import InvalidName
from wfpkg.names import check_execution_id, check_name
from wfpkg.protocol import ACTIVE_EXECUTION, TERMINAL_EXECUTION, ExecutionStatus, TaskState

from .plans import WorkflowPlan
from .waits import describe, event_row, resolve_waits, write_events

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "Created",
    "check_input",
    "check_payload",
    "check_signal",
    "create_execution",
    "create_executions",
    "execution_history",
    "execution_status",
    "find_execution",
    "list_executions",
    "request_cancel",
    "retry_execution",
    "send_signal",
]

MAX_PAYLOAD_BYTES = 256 * 1024

# Creating executions is on the hot path of `schedule`: DB-API statements, batched.
_INSERT_EXECUTION = sql.Statement(
    "INSERT INTO executions (uid, tenant, id, package, workflow, package_version_id, version, "
    "input, status, run_no, parent_uid, parent_task, retries_left, timeout, deadline, "
    "cancel_requested, created_at) VALUES (:uid, :tenant, :id, :package, :workflow, :pvid, "
    ":version, :input, 'pending', 1, :parent, :ptask, :retries, :timeout, :deadline, FALSE, :at)")
_INSERT_TASK = sql.Statement(
    "INSERT INTO task_runs (execution_uid, task_id, position, state, attempt, not_before, "
    "deps_left) VALUES (:u, :t, :p, :s, 0, :at, :n)")
_SQL_FIND = text("SELECT * FROM executions WHERE tenant=:t AND id=:i")


class Created:
    """The result of `create_execution`: its uid and id, and whether it is new."""

    __slots__ = ("created", "id", "uid")

    def __init__(self, uid: str, id: str, created: bool) -> None:  # noqa: A002
        self.uid, self.id, self.created = uid, id, created


def check_payload(value: Any, what: str) -> str:
    """Serialize a JSON value and enforce the size limit; `InvalidRequest` otherwise."""
    try:
        text = dumps(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"{what} is not JSON: {exc}") from None
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise InvalidRequest(f"{what} is {len(text.encode())} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    return text


def check_input(value: Any) -> str:
    """An execution's input as stored: a JSON object within the size limit; `InvalidRequest` otherwise."""
    if not isinstance(value, dict):
        raise InvalidRequest(f"execution input must be a JSON object, not {type(value).__name__}")
    return check_payload(value, "execution input")


def check_signal(name: str, payload: Any) -> str:
    """A signal's payload as stored, after checking its name; `InvalidRequest` otherwise."""
    try:
        check_name(name, "signal name")
    except InvalidName as exc:
        raise InvalidRequest(str(exc)) from None
    return check_payload(payload, f"payload of signal {name!r}")


def find_execution(conn: Connection, tenant: str, execution_id: str) -> Any:
    """The execution row of ``tenant``'s ``execution_id``, or `NotFound`."""
    row = conn.execute(_SQL_FIND, {"t": tenant, "i": execution_id}).first()
    if row is None:
        raise _missing(tenant, execution_id)
    return row


def _missing(tenant: str, execution_id: str) -> NotFound:
    return NotFound(f"no execution {execution_id!r} for tenant {tenant!r}")


def create_execution(
    conn: Connection,
    *,
    tenant: str,
    plan: WorkflowPlan,
    package: str,
    version: str | None,
    package_version_id: int | None,
    input: dict[str, Any],  # noqa: A002
    at: float,
    execution_id: str | None = None,
    parent_uid: str | None = None,
    parent_task: str | None = None,
    timeout: float | None = None,
    retries: int = 0,
    payload: str | None = None,
) -> Created:
    """Create an execution and its task rows (roots ready). Idempotent on ``execution_id``.

    Scheduling an id that exists returns it, if it is the same workflow with
    the same input; otherwise `Conflict`. ``payload``: the input already
    serialized by `check_input` (``input`` is then not read).
    """
    if payload is None:
        payload = check_input(input)
    if execution_id is not None:
        try:
            check_execution_id(execution_id)
        except InvalidName as exc:
            raise InvalidRequest(str(exc)) from None
        existing = conn.execute(select(E.c.uid, E.c.package, E.c.workflow, E.c.input).where(
            E.c.tenant == tenant, E.c.id == execution_id)).first()
        if existing is not None:
            if (existing.package, existing.workflow, existing.input) != (package, plan.name, payload):
                raise Conflict(
                    f"execution id {execution_id!r} already exists for "
                    f"{existing.package}::{existing.workflow} with other input"
                )
            return Created(existing.uid, execution_id, False)
    row = _execution_row(tenant, plan, package, version, package_version_id, payload, at,
                         execution_id, parent_uid, parent_task, timeout, retries)
    if execution_id is None:  # a fresh uid cannot collide
        _INSERT_EXECUTION.run(conn, row)
    else:
        try:
            with conn.begin_nested():
                _INSERT_EXECUTION.run(conn, row)
        except IntegrityError:  # another client created the same id just now
            found = find_execution(conn, tenant, execution_id)
            return Created(found.uid, execution_id, False)
    _insert_tasks(conn, plan, [row], package, version, at)
    return Created(row["uid"], row["id"], True)


def create_executions(conn: Connection, *, tenant: str, plan: WorkflowPlan, package: str,
                      version: str | None, package_version_id: int | None,
                      inputs: list[dict[str, Any]], at: float,
                      timeout: float | None = None,
                      payloads: list[str] | None = None) -> list[Created]:
    """Create one execution per input, with fresh ids, in three statements whatever their number.

    ``payloads``: the inputs already serialized by `check_input` (``inputs`` is then not read).
    """
    if payloads is None:
        payloads = [check_input(item) for item in inputs]
    rows = [_execution_row(tenant, plan, package, version, package_version_id, payload, at,
                           None, None, None, timeout, 0) for payload in payloads]
    _INSERT_EXECUTION.many(conn, rows)
    _insert_tasks(conn, plan, rows, package, version, at)
    return [Created(row["uid"], row["id"], True) for row in rows]


def _execution_row(tenant: str, plan: WorkflowPlan, package: str, version: str | None,
                   package_version_id: int | None, payload: str, at: float,
                   execution_id: str | None, parent_uid: str | None, parent_task: str | None,
                   timeout: float | None, retries: int) -> dict[str, Any]:
    uid = os.urandom(16).hex()  # as random as uuid4().hex, a quarter of its cost
    limit = timeout if timeout is not None else plan.timeout
    return {"uid": uid, "tenant": tenant, "id": execution_id or uid, "package": package,
            "workflow": plan.name, "pvid": package_version_id, "version": version, "input": payload,
            "parent": parent_uid, "ptask": parent_task, "retries": retries, "timeout": limit,
            "deadline": at + limit if limit else None, "at": at}


def _insert_tasks(conn: Connection, plan: WorkflowPlan, executions: list[dict[str, Any]],
                  package: str, version: str | None, at: float) -> None:
    """The task rows (roots ready) and the ``scheduled`` event of new executions."""
    tasks = [(t.id, t.position, "ready" if not t.depends_on else "pending", len(t.depends_on))
             for t in plan.tasks.values()]
    _INSERT_TASK.many(conn, [{"u": row["uid"], "t": t, "p": p, "s": state, "at": at, "n": n}
                             for row in executions for t, p, state, n in tasks])
    sql.EVENTS.many(conn, [{"execution_uid": row["uid"], "at": at, "kind": "scheduled",
                            "task_id": None, "detail": dumps({
                                "workflow": f"{package}::{plan.name}", "version": version,
                                "parent": row["parent"]})}
                           for row in executions])


def request_cancel(conn: Connection, tenant: str, execution_id: str, by: str,
                   reason: str | None, at: float) -> bool:
    """Ask for cancellation; the scheduler carries it out. False if it already finished."""
    row = find_execution(conn, tenant, execution_id)
    if row.status in TERMINAL_EXECUTION:
        return False
    if not row.cancel_requested:
        conn.execute(update(E).where(E.c.uid == row.uid).values(
            cancel_requested=True, cancelled_by=f"{by}: {reason}" if reason else by))
        add_event(conn, row.uid, "cancel_requested", at=at, by=by, reason=reason)
    return True


def send_signal(conn: Connection, tenant: str, execution_id: str, name: str, payload: Any,
                sender: str, at: float, *, encoded: str | None = None) -> list[str]:
    """Buffer a signal and resolve any wait it satisfies. Returns the tasks it woke.

    ``encoded``: the payload already checked and serialized by `check_signal`
    (``payload`` is then not read).

    Raises:
        NotFound: no such execution for this tenant.
        Conflict: the execution has already finished (the signal would be lost).
        InvalidRequest: a bad name or a payload that is not JSON or too large.
    """
    payload_text = encoded if encoded is not None else check_signal(name, payload)
    target = sql.SIGNAL_TARGET_KEY_SHARE if conn.dialect.name == "postgresql" else sql.SIGNAL_TARGET
    row = target.run(conn, {"t": tenant, "i": execution_id}).first()  # uid and status only
    if row is None:
        raise _missing(tenant, execution_id)
    if row.status in TERMINAL_EXECUTION:
        raise Conflict(f"execution {execution_id!r} already {row.status}; signal {name!r} not delivered")
    sql.SIGNAL_INSERT.run(conn, {"u": row.uid, "n": name, "p": payload_text, "s": sender, "at": at})
    events = [event_row(row.uid, "signal_received", None, at, name=name, sender=sender)]
    woken = resolve_waits(conn, tenant, row.uid, at, only_signal=name, events=events)
    write_events(conn, events)
    return woken


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def execution_status(conn: Connection, tenant: str, execution_id: str) -> Execution:
    """Everything `wfhost status` shows: the execution, its tasks, their waits, its children."""
    row = find_execution(conn, tenant, execution_id)
    waits = {(w.task_id): describe(json.loads(w.spec)) for w in conn.execute(
        select(W.c.task_id, W.c.spec).where(W.c.execution_uid == row.uid, W.c.status == "open"))}
    tasks = [
        TaskRun(task=t.task_id, state=TaskState(t.state), attempts=t.attempt,
                started_at=t.started_at, finished_at=t.finished_at,
                duration=(t.finished_at - t.started_at) if t.finished_at and t.started_at else None,
                error=t.error, output=_loads(t.output), waiting_for=waits.get(t.task_id))
        for t in conn.execute(select(T).where(T.c.execution_uid == row.uid).order_by(T.c.position))
    ]
    children = [
        Child(id=c.id, workflow=f"{c.package}::{c.workflow}", status=ExecutionStatus(c.status),
              parent_task=c.parent_task)
        for c in conn.execute(select(E.c.id, E.c.package, E.c.workflow, E.c.status, E.c.parent_task)
                              .where(E.c.parent_uid == row.uid).order_by(E.c.created_at))
    ]
    parent = None
    if row.parent_uid:
        prow = conn.execute(select(E.c.id).where(E.c.uid == row.parent_uid)).first()
        parent = prow.id if prow else None
    return Execution(
        id=row.id, tenant=row.tenant, workflow=f"{row.package}::{row.workflow}",
        version=row.version, status=ExecutionStatus(row.status), input=_loads(row.input),
        output=_loads(row.output), error=row.error, run=row.run_no,
        created_at=row.created_at, started_at=row.started_at,
        finished_at=row.finished_at, cancel_requested=bool(row.cancel_requested),
        cancelled_by=row.cancelled_by, parent=parent, tasks=tasks, children=children,
    )


def execution_history(conn: Connection, tenant: str, execution_id: str) -> list[Event]:
    """The event log of one execution, oldest first."""
    row = find_execution(conn, tenant, execution_id)
    return [
        Event(e.at, e.kind, e.task_id, _loads(e.detail) or {})
        for e in conn.execute(select(EV).where(EV.c.execution_uid == row.uid).order_by(EV.c.at, EV.c.id))
    ]


def list_executions(conn: Connection, tenant: str | None = None, status: str | None = None,
                    workflow: str | None = None, limit: int = 100, *, parent: str | None = None,
                    after: tuple[float, str] | None = None, retrying: bool = False,
                    root: bool = False) -> list[ExecutionSummary]:
    """Executions, newest first, filtered by tenant, status, ``package::workflow`` and parent id.

    ``after`` is the ``(created_at, id)`` of the last execution of a previous
    page: the list continues after it (keyset paging, stable under inserts).
    ``retrying`` keeps executions with a task that failed an attempt and runs
    or waits to run again; ``root`` keeps executions that are not children.
    """
    q = select(E.c.tenant, E.c.id, E.c.package, E.c.workflow, E.c.version, E.c.status,
               E.c.created_at, E.c.finished_at, E.c.error, E.c.parent_uid)
    if tenant:
        q = q.where(E.c.tenant == tenant)
    if status:
        if status == "active":
            q = q.where(E.c.status.in_(sorted(ACTIVE_EXECUTION)))
        else:
            q = q.where(E.c.status == status)
    if workflow:
        package, _, wf = workflow.rpartition("::")
        q = q.where(E.c.workflow == wf)
        if package:
            q = q.where(E.c.package == package)
    if parent is not None:
        parents = select(E.c.uid).where(E.c.id == parent)
        if tenant:
            parents = parents.where(E.c.tenant == tenant)
        q = q.where(E.c.parent_uid.in_(parents.scalar_subquery()))
    if retrying:
        # A task still to run or running that keeps the error of a failed attempt is being retried.
        again = and_(T.c.state.in_(["pending", "ready", "running"]), T.c.error.is_not(None))
        q = q.where(select(T.c.task_id).where(T.c.execution_uid == E.c.uid, again).exists())
    if root:
        q = q.where(E.c.parent_uid.is_(None))
    if after is not None:
        q = q.where(or_(E.c.created_at < after[0], and_(E.c.created_at == after[0], E.c.id < after[1])))
    q = q.order_by(E.c.created_at.desc(), E.c.id.desc()).limit(limit)
    return [
        ExecutionSummary(tenant=r.tenant, id=r.id, workflow=f"{r.package}::{r.workflow}",
                         version=r.version, status=ExecutionStatus(r.status), created_at=r.created_at,
                         finished_at=r.finished_at, error=r.error, child=r.parent_uid is not None)
        for r in conn.execute(q)
    ]


def retry_execution(conn: Connection, row: Any, plan: WorkflowPlan, by: str, at: float) -> list[str]:
    """Run a failed or cancelled execution again from its failed tasks; returns the tasks reset.

    Succeeded tasks keep their recorded outputs. Every other task starts
    afresh (attempt 0, empty journal, no open waits), except one skipped by
    its own condition or trigger rule while its dependencies all succeeded.
    Reset tasks whose dependencies all succeeded become ready; the rest wait
    for them as on a first run. The history records who asked.

    Args:
        row: the execution's row (`find_execution`).
        plan: its workflow plan.

    Raises:
        Conflict: the execution has not failed and was not cancelled.
    """
    if row.status not in ("failed", "cancelled"):
        raise Conflict(f"execution {row.id!r} is {row.status}; only a failed or cancelled execution "
                       "can be retried")
    states: dict[str, str] = dict(conn.execute(
        select(T.c.task_id, T.c.state).where(T.c.execution_uid == row.uid)).all())

    def deps_succeeded(task_id: str) -> bool:
        return all(states.get(d) == "succeeded" for d in plan.tasks[task_id].depends_on)

    reset = [t for t in plan.order if states.get(t) != "succeeded"
             and not (states.get(t) == "skipped" and deps_succeeded(t))]
    if not reset:
        raise Conflict(f"execution {row.id!r} has no failed task to retry")
    ready = [t for t in reset if deps_succeeded(t)]
    for table in (J, W):
        conn.execute(delete(table).where(table.c.execution_uid == row.uid, table.c.task_id.in_(reset)))
    conn.execute(update(T).where(T.c.execution_uid == row.uid, T.c.task_id.in_(reset)).values(
        state="pending", attempt=0, not_before=at, lease_owner=None, deadline=None, output=None,
        error=None, detail=None, waiting_for=None, started_at=None, finished_at=None))
    conn.execute(update(T).where(T.c.execution_uid == row.uid, T.c.task_id.in_(ready))
                 .values(state="ready"))
    for task_id in reset:  # what the scheduler counts down to decide a task with several dependencies
        deps = plan.tasks[task_id].depends_on
        if len(deps) > 1:
            left = sum(1 for d in deps if states.get(d) != "succeeded")
            conn.execute(update(T).where(T.c.execution_uid == row.uid, T.c.task_id == task_id)
                         .values(deps_left=left))
    conn.execute(update(E).where(E.c.uid == row.uid).values(
        status="pending", error=None, output=None, finished_at=None, cancel_requested=False,
        cancelled_by=None, deadline=at + row.timeout if row.timeout else None))
    add_event(conn, row.uid, "execution_retried", at=at, by=by, tasks=reset)
    return reset
