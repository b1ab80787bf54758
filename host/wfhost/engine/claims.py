"""The scheduler's claims: take ready tasks up to this host's capacity and build their requests.

The attempts this host has in flight (``_running``, ``_tenant_running``) are
kept and changed only here and in `Scheduler`'s constructor and turn.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Connection

from wfhost.store import _sql as sql
from wfpkg.runner import TaskRequest

from .durable import RunRef
from .outcomes import Outcomes
from .plans import merge_inputs

__all__ = ["Claims"]


class Claims(Outcomes):
    """Claiming ready tasks and releasing finished attempts."""

    max_concurrency: int
    tenant_concurrency: int | None
    _skip_locked: bool
    _running: dict[str, RunRef]
    _tenant_running: dict[str, int]

    def _release(self, run: RunRef) -> None:
        if self._running.pop(run.run_id, None) is not None:
            self._tenant_running[run.tenant] -= 1

    def _release_task(self, uid: str, task_id: str) -> None:
        """Release this host's attempt of a task, if it has one in flight."""
        run = next((r for r in self._running.values() if r.uid == uid and r.task_id == task_id), None)
        if run is not None:
            self._release(run)

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
