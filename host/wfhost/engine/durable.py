"""The host's side of durable calls: one transaction per call, journaled by (execution, task, seq).

Steps, waits, signals to other executions, cancellation requests and child
starts all go through `DurableCalls.execute`. A task running in the host's
threads reaches it through `HostBackend`; a task in a package's worker
process reaches it over the worker pipe (the scheduler routes by run id).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, text, update

from wfhost.errors import Conflict, HostError, InvalidRequest, NotFound
from wfhost.store._db import T, add_event, dumps, now
from wfpkg import Cancelled
from wfpkg.runtime import Backend, Suspended

from .catalog import Catalog, Target
from .executions import create_execution, request_cancel, send_signal
from .waits import describe, open_wait, try_resolve

__all__ = ["DurableCalls", "HostBackend", "RunRef"]

_SQL_RECORDED = text("SELECT result FROM journal WHERE execution_uid=:u AND task_id=:t AND seq=:s")
_SQL_CANCEL_REQUESTED = text("SELECT cancel_requested FROM executions WHERE uid=:u")
_SQL_RECORD = text(
    "INSERT INTO journal (execution_uid, task_id, seq, kind, name, result, at) "
    "VALUES (:u, :t, :s, :k, :n, :r, :at)")


class RunRef:
    """One claimed attempt of one task: where its durable calls belong."""

    __slots__ = ("attempt", "execution_id", "package", "package_version_id", "run_id", "task_id",
                 "tenant", "uid", "version", "workflow")

    def __init__(self, run_id: str, uid: str, tenant: str, execution_id: str, task_id: str,
                 attempt: int, package: str, version: str | None,
                 package_version_id: int | None, workflow: str) -> None:
        self.run_id, self.uid, self.tenant, self.execution_id = run_id, uid, tenant, execution_id
        self.task_id, self.attempt, self.package, self.version = task_id, attempt, package, version
        self.package_version_id, self.workflow = package_version_id, workflow


def _envelope(exc: HostError) -> dict[str, Any]:
    kind = {NotFound: "ExecutionNotFound", Conflict: "ExecutionFinished"}.get(type(exc), "WfpkgError")
    return {"error": kind, "message": str(exc)}


class DurableCalls:
    """Performs durable calls against the store.

    Args:
        engine: the store (owned by the host).
        catalog: resolves child workflow names.
        on_change: called after a commit that made tasks ready or requested a
            cancellation, so the scheduler (and other hosts) look at once.
    """

    def __init__(self, engine: Engine, catalog: Catalog, on_change: Callable[[], None]) -> None:
        self._engine = engine
        self._catalog = catalog
        self._on_change = on_change

    def execute(self, run: RunRef, seq: int, kind: str, name: str, request: dict[str, Any]) -> Any:
        """Perform call ``seq`` of ``run`` once; see `wfpkg.runtime.Backend.execute`."""
        suspend: dict[str, Any] | None = None
        changed = False
        # Resolve a child's workflow before the transaction: it may read the registry, and
        # reads need not hold the write lock.
        target = self._resolve_child(run, request) if kind == "start_child" else None
        with self._engine.begin() as conn:
            done = conn.execute(_SQL_RECORDED, {"u": run.uid, "t": run.task_id, "s": seq}).first()
            if done is not None:  # a zombie attempt or a lost reply: the first result stands
                return json.loads(done.result)
            ex = conn.execute(_SQL_CANCEL_REQUESTED, {"u": run.uid}).first()
            if ex is None or ex.cancel_requested:
                raise Cancelled(f"execution {run.execution_id!r} was cancelled")
            at = now()
            result: Any
            if kind == "step":
                result = {"value": request.get("value")}
            elif kind == "now":
                result = {"value": datetime.fromtimestamp(at, timezone.utc).isoformat()}
            elif kind == "wait":
                spec = open_wait(conn, run.uid, run.task_id, seq, name, request, at)
                resolved = try_resolve(conn, run.tenant, run.uid, run.task_id, seq, spec, at)
                if resolved is not None:
                    return resolved  # try_resolve journaled it
                suspend = {"seq": seq, "waiting_for": describe(spec)}
                conn.execute(update(T).where(T.c.execution_uid == run.uid,
                                             T.c.task_id == run.task_id)
                             .values(waiting_for=suspend["waiting_for"]))
                result = None
            elif kind == "signal_execution":
                try:
                    woken = send_signal(conn, run.tenant, str(request["id"]), str(request["name"]),
                                        request.get("payload"), f"execution {run.execution_id}", at)
                    changed = bool(woken)
                    result = {}
                except HostError as exc:
                    result = _envelope(exc)
            elif kind == "cancel_execution":
                try:
                    changed = request_cancel(conn, run.tenant, str(request["id"]),
                                             f"execution {run.execution_id}", request.get("reason"), at)
                    result = {}
                except HostError as exc:
                    result = _envelope(exc)
            elif kind == "start_child":
                result = self._start_child(conn, run, seq, request, at, target)
                changed = True
            else:
                raise InvalidRequest(f"unknown durable call kind {kind!r}")
            if suspend is None:
                conn.execute(_SQL_RECORD, {"u": run.uid, "t": run.task_id, "s": seq, "k": kind, "n": name,
                                           "r": dumps(result), "at": at})
        if changed:
            self._on_change()
        if suspend is not None:
            raise Suspended(suspend)
        return result

    def _resolve_child(self, run: RunRef, request: dict[str, Any]) -> Target | HostError:
        try:
            return self._catalog.resolve(run.tenant, str(request["workflow"]), package=run.package,
                                         version=run.version, version_id=run.package_version_id)
        except HostError as exc:
            return exc

    def _start_child(self, conn: Any, run: RunRef, seq: int, request: dict[str, Any],
                     at: float, target: Target | HostError | None) -> dict[str, Any]:
        child_id = request.get("id") or f"{run.execution_id}.{run.task_id}.{seq}"
        try:
            if isinstance(target, HostError) or target is None:
                raise target or InvalidRequest("no child workflow resolved")
            created = create_execution(
                conn, tenant=run.tenant, plan=target.plan, package=target.package,
                version=target.version, package_version_id=target.package_version_id,
                input=request.get("input") or {}, at=at, execution_id=child_id,
                parent_uid=run.uid, parent_task=run.task_id, timeout=request.get("timeout"),
                retries=int(request.get("retry") or 0))
        except HostError as exc:
            return {"error": "WfpkgError", "message": f"cannot start child {child_id!r}: {exc}"}
        add_event(conn, run.uid, "child_started", run.task_id, at=at, child=created.id,
                  workflow=f"{target.package}::{target.plan.name}")
        return {"id": created.id}


class HostBackend(Backend):
    """A `Backend` for a task running in one of the host's own threads."""

    def __init__(self, calls: DurableCalls, run: RunRef, cancelled: threading.Event) -> None:
        self._calls = calls
        self._run = run
        self._cancelled = cancelled

    def execute(self, seq: int, kind: str, name: str, request: Any) -> Any:
        return self._calls.execute(self._run, seq, kind, name, dict(request))

    def cancelled(self) -> bool:
        return self._cancelled.is_set()
