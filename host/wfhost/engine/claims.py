"""The scheduler's claims: take ready tasks up to this host's capacity and build their attempts.

The attempts this host has in flight are counted by their one owner,
`wfregistry.inflight.InFlight`, which the dispatcher fills after the commit.
"""

from __future__ import annotations

import json
import os
from typing import Any

from sqlalchemy import Connection

from wfhost.store import _sql as sql
from wfpkg.protocol import JournalEntry, TaskRequest, decode_result
from wfregistry.inflight import Attempt, InFlight

from .outcomes import Outcomes
from .plans import merge_inputs

__all__ = ["Claims"]


class Claims(Outcomes):
    """Claiming ready tasks and releasing finished attempts."""

    max_concurrency: int
    tenant_concurrency: int | None
    _skip_locked: bool
    inflight: InFlight
    _outputs: dict[tuple[str, str], str]

    def _release_task(self, uid: str, task_id: str) -> None:
        """Give up this host's attempt of a task, if it has one in flight: its late outcome is stale."""
        run = self.inflight.find(uid, task_id)
        if run is not None:
            self.inflight.finish(run.run_id)

    # -- claiming -----------------------------------------------------------------------

    def _claim(self, conn: Connection, at: float) -> list[Attempt]:
        room = self.max_concurrency - self.inflight.count()
        if room <= 0:
            return []
        limit = room * 2 if self.tenant_concurrency else room
        ready = sql.READY_SKIP_LOCKED if self._skip_locked else sql.READY
        rows = ready.run(conn, {"at": at, "n": limit}).all()
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
        # Outputs recorded in this turn are at hand (a chain's next task needs just that one).
        outputs = self._outputs
        missing = {(uid, d) for uid, ids in wanted.items() for d in ids if (uid, d) not in outputs}
        if missing:
            for o in sql.OUTPUTS.run(conn, {"uids": sorted({u for u, _ in missing}),
                                            "ids": sorted({d for _, d in missing})}):
                if (o.execution_uid, o.task_id) in missing:
                    outputs[(o.execution_uid, o.task_id)] = o.output
        # Only a task claimed before (since its execution last restarted) can have a journal.
        mine = {(r.execution_uid, r.task_id) for r in picked if r.started_at is not None}
        journals: dict[tuple[str, str], list[JournalEntry]] = {}
        resumed = sorted({uid for uid, _task in mine})
        for j in sql.JOURNALS.run(conn, {"uids": resumed}) if resumed else ():
            if (j.execution_uid, j.task_id) in mine:
                journals.setdefault((j.execution_uid, j.task_id), []).append(
                    JournalEntry(j.seq, j.kind, j.name, decode_result(j.kind, json.loads(j.result))))
        claimed = []
        for r in picked:
            plan = plans[(r.package_version_id, r.tenant, r.package, r.workflow)]
            deps = plan.tasks[r.task_id].depends_on
            request = TaskRequest(
                run_id=os.urandom(16).hex(), tenant=r.tenant, execution_id=r.id, workflow=r.workflow,
                task_id=r.task_id, attempt=r.attempt + 1,
                input=merge_inputs(r.input, [outputs.get((r.execution_uid, d)) for d in deps]),
                journal=journals.get((r.execution_uid, r.task_id), []))
            claimed.append(Attempt(request, r.execution_uid, r.package, r.version, r.package_version_id))
        for r in picked:
            self._event(r.execution_uid, "task_started", r.task_id, at, attempt=r.attempt + 1,
                        host=self.host_id)
        return claimed
