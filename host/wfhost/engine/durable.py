"""The host's side of durable calls: one transaction per call, journaled by (execution, task, seq).

Every typed call of `wfpkg.protocol` (steps, waits, signals to other
executions, cancellation requests, child starts) goes through
`DurableCalls.execute`, which dispatches on the call's type. A task running
in the host's threads reaches it through `HostBackend`; a task in a
package's worker process reaches it over the worker socket, for an attempt
that `InFlight` says that worker holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, Engine

from wfhost.errors import Conflict, HostError, NotFound
from wfhost.store import _sql as sql
from wfhost.store._db import add_event, dumps, now
from wfpkg import Cancelled
from wfpkg.errors import ExecutionFinished, ExecutionNotFound, WfpkgError
from wfpkg.protocol import (
    CancelExecution,
    ChildStarted,
    Done,
    DurableCall,
    Failed,
    Now,
    NowResult,
    Result,
    SignalExecution,
    StartChild,
    Step,
    StepResult,
    WaitCall,
    decode_result,
    encode_result,
)
from wfpkg.runtime import Backend, Suspended
from wfregistry.inflight import Attempt, InFlight

from .catalog import Catalog, Target
from .executions import create_execution, request_cancel, send_signal
from .waits import describe, open_wait, try_resolve

__all__ = ["DurableCalls", "HostBackend"]

# What task code sees for a host error about another execution (the host's own errors
# say the same to a CLI user with their exit codes).
_FOR_TASK: dict[type[HostError], type[WfpkgError]] = {NotFound: ExecutionNotFound,
                                                       Conflict: ExecutionFinished}


def _refused(exc: HostError) -> Failed:
    return Failed(_FOR_TASK.get(type(exc), WfpkgError)(str(exc)).info())


@dataclass(frozen=True)
class _Waiting:
    """The wait is recorded but not satisfied: commit, then suspend the task."""

    waiting_for: str


class DurableCalls:
    """Performs durable calls against the store.

    Args:
        engine: the store (owned by the host).
        catalog: resolves child workflow names.
        on_change: called after a commit that made tasks ready or requested a
            cancellation, so the scheduler (and other hosts) look at once; with
            ``scan=True`` only for a cancellation (ready tasks need just a claiming turn).
    """

    def __init__(self, engine: Engine, catalog: Catalog, on_change: Callable[[bool], None]) -> None:
        self._engine = engine
        self._catalog = catalog
        self._on_change = on_change

    def execute(self, run: Attempt, seq: int, call: DurableCall) -> Result:
        """Perform call ``seq`` of ``run`` once; see `wfpkg.runtime.Backend.execute`."""
        # Resolve a child's workflow before the transaction: it may read the registry, and
        # reads need not hold the write lock.
        target = self._resolve_child(run, call) if isinstance(call, StartChild) else None
        with self._engine.begin() as conn:
            done = sql.JOURNAL_RESULT.run(conn, {"u": run.execution_uid, "t": run.task_id, "s": seq}).first()
            if done is not None:  # a zombie attempt or a lost reply: the first result stands
                return decode_result(call.kind, json.loads(done.result))
            # A wait locks its execution's row on PostgreSQL, as a signal does (`send_signal`),
            # so that one of them sees the other's row.
            lock = isinstance(call, WaitCall) and conn.dialect.name == "postgresql"
            cancel = sql.CANCEL_REQUESTED_FOR_UPDATE if lock else sql.CANCEL_REQUESTED
            ex = cancel.run(conn, {"u": run.execution_uid}).first()
            if ex is None or ex.cancel_requested:
                raise Cancelled(f"execution {run.execution_id!r} was cancelled")
            at = now()
            result, changed, journaled = self._perform(conn, run, seq, call, at, target)
            if not journaled and not isinstance(result, _Waiting):
                sql.JOURNAL_RECORD.run(conn, {"u": run.execution_uid, "t": run.task_id, "s": seq,
                                              "k": call.kind, "n": call.name,
                                              "r": dumps(encode_result(result)), "at": at})
        if changed:
            self._on_change(isinstance(call, CancelExecution))
        if isinstance(result, _Waiting):
            raise Suspended(result.waiting_for)
        return result

    def _perform(self, conn: Connection, run: Attempt, seq: int, call: DurableCall, at: float,
                 target: Target | HostError | None) -> tuple[Result | _Waiting, bool, bool]:
        """The call's effect: ``(result, changed, already journaled)``."""
        match call:
            case Step(value=value):
                return StepResult(value), False, False
            case Now():
                return NowResult(datetime.fromtimestamp(at, timezone.utc).isoformat()), False, False
            case WaitCall():
                spec = open_wait(conn, run.execution_uid, run.task_id, seq, call, at)
                resolved = try_resolve(conn, run.tenant, run.execution_uid, run.task_id, seq, spec, at)
                if resolved is not None:
                    return resolved, False, True  # try_resolve journaled it
                waiting_for = describe(spec)
                sql.SET_WAITING_FOR.run(conn, {"u": run.execution_uid, "t": run.task_id, "w": waiting_for})
                return _Waiting(waiting_for), False, True
            case SignalExecution():
                try:
                    woken = send_signal(conn, run.tenant, call.execution_id, call.signal, call.payload,
                                        f"execution {run.execution_id}", at)
                except HostError as exc:
                    return _refused(exc), False, False
                return Done(), bool(woken), False
            case CancelExecution():
                try:
                    changed = request_cancel(conn, run.tenant, call.execution_id,
                                             f"execution {run.execution_id}", call.reason, at)
                except HostError as exc:
                    return _refused(exc), False, False
                return Done(), changed, False
            case StartChild():
                return self._start_child(conn, run, seq, call, at, target), True, False
        raise TypeError(f"unknown durable call {type(call).__name__}")

    def _resolve_child(self, run: Attempt, call: StartChild) -> Target | HostError:
        try:
            return self._catalog.resolve(run.tenant, call.workflow, package=run.package,
                                         version=run.version, version_id=run.package_version_id)
        except HostError as exc:
            return exc

    def _start_child(self, conn: Connection, run: Attempt, seq: int, call: StartChild,
                     at: float, target: Target | HostError | None) -> Result:
        child_id = call.id or f"{run.execution_id}.{run.task_id}.{seq}"
        try:
            if isinstance(target, HostError) or target is None:
                raise target or HostError("no child workflow resolved")
            created = create_execution(
                conn, tenant=run.tenant, plan=target.plan, package=target.package,
                version=target.version, package_version_id=target.package_version_id,
                input=dict(call.input), at=at, execution_id=child_id,
                parent_uid=run.execution_uid, parent_task=run.task_id, timeout=call.timeout,
                retries=call.retry)
        except HostError as exc:
            return Failed(WfpkgError(f"cannot start child {child_id!r}: {exc}").info())
        add_event(conn, run.execution_uid, "child_started", run.task_id, at=at, child=created.id,
                  workflow=f"{target.package}::{target.plan.name}")
        return ChildStarted(created.id)


class HostBackend(Backend):
    """A `Backend` for a task running in one of the host's own threads.

    Like a worker pool, it performs calls only for an attempt still in flight.
    """

    def __init__(self, calls: DurableCalls, run: Attempt, inflight: InFlight) -> None:
        self._calls = calls
        self._run = run
        self._inflight = inflight

    def execute(self, seq: int, call: DurableCall) -> Result:
        if self._inflight.get(self._run.run_id) is not self._run:  # given up (timed out) meanwhile
            raise Cancelled(f"attempt {self._run.run_id} is no longer current")
        return self._calls.execute(self._run, seq, call)

    def cancelled(self) -> bool:
        return self._inflight.is_cancelled(self._run)
