"""Per-tenant quotas: defaults from the service config, overrides in ``tenant_quotas``.

Counts (tasks running, executions waiting) are read from the store, so they
hold across every host on one database; rates (starts per minute, uploads per
hour) are sliding windows kept by this service process. Over a count or rate
the API answers 429 with ``Retry-After``; over a size, 413. Only the tenant
over its quota is refused: the checks read that tenant's rows alone.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select

from wfhost.store._db import E, T
from wfhost.store.access import QuotaRow

from .problems import ApiError

__all__ = ["Quotas", "QuotaStore"]

Q = QuotaRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Quotas:
    """What one tenant may use. Every field is a positive limit.

    Attributes:
        concurrent_tasks: task attempts running at once; new executions are refused beyond it.
        starts_per_minute: executions started through the API in any 60 s.
        waiting_executions: executions in ``waiting`` at once; new ones are refused beyond it.
        package_bytes: the size of an uploaded ``.wfpkg``.
        signal_bytes: the size of a signal's JSON payload.
        uploads_per_hour: package uploads in any hour.
    """

    concurrent_tasks: int = 64
    starts_per_minute: int = 6000
    waiting_executions: int = 10000
    package_bytes: int = 64 * 1024 * 1024
    signal_bytes: int = 256 * 1024
    uploads_per_hour: int = 60

    def to_dict(self) -> dict[str, int]:
        """The JSON form."""
        return asdict(self)


_FIELDS = tuple(f.name for f in fields(Quotas))


class _Window:
    """Events per tenant in a sliding window of ``span`` seconds."""

    def __init__(self, span: float) -> None:
        self.span = span
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, tenant: str, limit: int, n: int = 1) -> float:
        """Record ``n`` events if within ``limit``; else return seconds until there is room."""
        at = time.monotonic()
        with self._lock:
            q = self._events.setdefault(tenant, deque())
            while q and q[0] <= at - self.span:
                q.popleft()
            if len(q) + n > limit:
                return max(0.0, q[0] + self.span - at) if q else self.span
            q.extend([at] * n)
            return 0.0


class QuotaStore:
    """Reads and changes tenants' quotas and enforces them.

    Args:
        engine: the store (owned by the caller).
        defaults: the quotas of a tenant with no override.
        on_reject: called with ``(tenant, quota name)`` on each refusal (metrics).
    """

    def __init__(self, engine: Engine, defaults: Quotas, on_reject: Any = None) -> None:
        self.engine = engine
        self.defaults = defaults
        self._on_reject = on_reject or (lambda tenant, name: None)
        self._starts = _Window(60.0)
        self._uploads = _Window(3600.0)

    def get(self, tenant: str) -> Quotas:
        """The quotas in force for ``tenant``."""
        with self.engine.connect() as conn:
            row = conn.execute(select(Q).where(Q.c.tenant == tenant)).first()
        if row is None:
            return self.defaults
        return replace(self.defaults, **{k: v for k in _FIELDS if (v := getattr(row, k)) is not None})

    def set(self, tenant: str, changes: dict[str, int | None]) -> Quotas:
        """Override some of ``tenant``'s quotas (``None`` restores the default); returns them all."""
        current = {}
        with self.engine.begin() as conn:
            row = conn.execute(select(Q).where(Q.c.tenant == tenant)).first()
            if row is not None:
                current = {k: getattr(row, k) for k in _FIELDS}
            current.update({k: v for k, v in changes.items() if k in _FIELDS})
            conn.execute(delete(Q).where(Q.c.tenant == tenant))
            conn.execute(insert(Q).values(tenant=tenant, **current))
        return self.get(tenant)

    def forget_tenant(self, conn: Any, tenant: str) -> None:
        """Delete a tenant's overrides inside the caller's transaction."""
        conn.execute(delete(Q).where(Q.c.tenant == tenant))

    def _refuse(self, tenant: str, name: str, detail: str, retry_after: float) -> ApiError:
        self._on_reject(tenant, name)
        return ApiError(429, "quota_exceeded", f"tenant {tenant!r} is over its {name} quota: {detail}",
                        {"Retry-After": str(max(1, math.ceil(retry_after)))})

    def check_start(self, tenant: str, n: int = 1) -> None:
        """Refuse (429) starting ``n`` executions now, or count them as started."""
        q = self.get(tenant)
        with self.engine.connect() as conn:
            running = conn.execute(select(func.count()).select_from(T.join(E, T.c.execution_uid == E.c.uid))
                                   .where(E.c.tenant == tenant, T.c.state == "running")).scalar_one()
            waiting = conn.execute(select(func.count()).select_from(E)
                                   .where(E.c.tenant == tenant, E.c.status == "waiting")).scalar_one()
        if running >= q.concurrent_tasks:
            raise self._refuse(tenant, "concurrent_tasks",
                               f"{running} tasks running, the limit is {q.concurrent_tasks}", 1)
        if waiting >= q.waiting_executions:
            raise self._refuse(tenant, "waiting_executions",
                               f"{waiting} executions waiting, the limit is {q.waiting_executions}", 5)
        wait = self._starts.take(tenant, q.starts_per_minute, n)
        if wait:
            raise self._refuse(tenant, "starts_per_minute",
                               f"more than {q.starts_per_minute} executions started in a minute", wait)

    def check_upload(self, tenant: str) -> None:
        """Refuse (429) an upload over the hourly rate, or count it."""
        q = self.get(tenant)
        wait = self._uploads.take(tenant, q.uploads_per_hour)
        if wait:
            raise self._refuse(tenant, "uploads_per_hour",
                               f"more than {q.uploads_per_hour} uploads in an hour", wait)

    def check_size(self, tenant: str, name: str, size: int) -> None:
        """Refuse (413) a package or signal payload over ``tenant``'s size quota."""
        limit = getattr(self.get(tenant), name)
        if size > limit:
            self._on_reject(tenant, name)
            what = "package" if name == "package_bytes" else "signal payload"
            raise ApiError(413, "too_large", f"the {what} is {size} bytes; tenant {tenant!r} may send {limit}")
