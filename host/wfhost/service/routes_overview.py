"""``/v1/tenants/{tenant}/overview``: what the dashboard's tenant page shows, in one read.

Counts now and over the last hour, finished executions per minute, the
slowest workflows and the tenant's quotas with what is in use.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select

from wfhost._time import rfc3339
from wfhost.store._db import E, T

from .auth import ServiceDep, TenantDep
from .problems import PROBLEM_RESPONSES
from .schemas import Overview

__all__ = ["router"]

router = APIRouter(prefix="/v1/tenants/{tenant}", tags=["executions"], responses=PROBLEM_RESPONSES)

HOUR = 3600.0
SLOWEST = 5


@router.get("/overview", summary="The tenant at a glance", response_model=Overview)
def overview(tenant: TenantDep, svc: ServiceDep) -> Any:
    """Running, waiting, failed in the last hour, finishes per minute, slowest workflows, quotas."""
    now = time.time()
    since = now - HOUR
    mine = E.c.tenant == tenant
    recent = (mine, E.c.finished_at >= since)
    with svc.engine.connect() as conn:
        active = dict(conn.execute(select(E.c.status, func.count()).where(mine, E.c.status.in_(
            ["pending", "running", "waiting"])).group_by(E.c.status)).all())
        finished = dict(conn.execute(select(E.c.status, func.count()).where(*recent).group_by(E.c.status)).all())
        minutes = [0] * 60
        for (at,) in conn.execute(select(E.c.finished_at).where(*recent)):
            minutes[min(59, int((at - since) // 60))] += 1
        took = E.c.finished_at - E.c.started_at
        slow = conn.execute(
            select(E.c.package, E.c.workflow, func.count(), func.avg(took), func.max(took))
            .where(*recent, E.c.status == "succeeded", E.c.started_at.is_not(None))
            .group_by(E.c.package, E.c.workflow).order_by(func.avg(took).desc()).limit(SLOWEST)).all()
        tasks = conn.execute(select(func.count()).select_from(T.join(E, T.c.execution_uid == E.c.uid))
                             .where(mine, T.c.state == "running")).scalar_one()
    limits = svc.quotas.get(tenant).to_dict()
    return {
        "at": rfc3339(now),
        "running": int(active.get("running", 0)) + int(active.get("pending", 0)),
        "waiting": int(active.get("waiting", 0)),
        "last_hour": {s: int(finished.get(s, 0)) for s in ("succeeded", "failed", "cancelled")},
        "throughput": [{"minute": rfc3339(since + 60 * i), "finished": n} for i, n in enumerate(minutes)],
        "slowest": [{"workflow": f"{p}::{w}", "finished": int(n), "mean_seconds": float(avg),
                     "max_seconds": float(mx)} for p, w, n, avg, mx in slow],
        "quota": {"limits": limits,
                  "in_use": {"concurrent_tasks": int(tasks), "waiting_executions": int(active.get("waiting", 0))}},
    }
