"""The scheduler's scans: timers, timeouts, cancellations, recovery of dead hosts' attempts.

Run at most once a second, when woken with ``scan``, and whenever something
falls due; each inside the scheduler's turn transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, or_, select, update

from wfhost.store import _sql as sql
from wfhost.store._db import E, H, T, W
from wfpkg.protocol import ACTIVE_EXECUTION, OutcomeStatus, TaskOutcome

from .executions import request_cancel
from .notify import host_alive
from .outcomes import Outcomes
from .waits import resolve_waits

__all__ = ["DRAIN_SECONDS", "HEARTBEAT_SECONDS", "SCAN_SECONDS", "Scans"]

HEARTBEAT_SECONDS = 2.0
DRAIN_SECONDS = 5.0
SCAN_SECONDS = 1.0
_ACTIVE = sorted(ACTIVE_EXECUTION)


class Scans(Outcomes):
    """Heartbeat and recovery, due timers, deadlines, cancellations, drained versions."""

    _next_heartbeat: float
    _next_drain: float

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
            self._release_task(row.execution_uid, row.task_id)
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
        rows = sql.RETIRED.run(conn).all()
        registry = self.catalog.registry
        return [r for r in rows if registry.install_dir(r.tenant, r.name, r.version).exists()]

    def _next_due(self, conn: Connection, at: float) -> float:
        """Seconds until the next timer, backoff, attempt deadline or execution deadline."""
        row = sql.NEXT_DUE.run(conn, {"at": at, "h": self.host_id}).one()
        due = [c for c in row if c is not None]
        return max(0.0, min(due) - at) if due else SCAN_SECONDS
