"""Prometheus metrics at ``/metrics``, labelled by tenant.

Counters and latency histograms follow the store's event log (every host's
work on this database, not only this process's); gauges (waiting executions,
queue depth, running tasks, worker processes) are read at scrape time. Quota
refusals are counted where they happen, in this process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from wfhost.store._db import EV, E, T

__all__ = ["Metrics"]

log = logging.getLogger(__name__)
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_TAIL_SECONDS = 1.0
_BATCH = 5000


class _Gauges(Collector):
    """Gauges read from the store (and this host's worker pool) at each scrape."""

    def __init__(self, svc: Any) -> None:
        self.svc = svc

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting = GaugeMetricFamily("wfhost_waiting_executions", "Executions waiting on a signal, timer "
                                    "or child.", labels=["tenant"])
        queue = GaugeMetricFamily("wfhost_queue_depth", "Tasks ready to run and not yet claimed.",
                                  labels=["tenant"])
        running = GaugeMetricFamily("wfhost_running_tasks", "Task attempts running now.", labels=["tenant"])
        workers = GaugeMetricFamily("wfhost_worker_processes", "Package worker processes of this host.",
                                    labels=["tenant"])
        with self.svc.engine.connect() as conn:
            for tenant, n in conn.execute(select(E.c.tenant, func.count()).where(E.c.status == "waiting")
                                          .group_by(E.c.tenant)):
                waiting.add_metric([tenant], n)
            joined = T.join(E, T.c.execution_uid == E.c.uid)
            for state, family in (("ready", queue), ("running", running)):
                for tenant, n in conn.execute(select(E.c.tenant, func.count()).select_from(joined)
                                              .where(T.c.state == state).group_by(E.c.tenant)):
                    family.add_metric([tenant], n)
        per_tenant: dict[str, int] = {}
        for label in self.svc.host.scheduler.dispatcher.live_workers():
            tenant = label.split("::", 1)[0]
            per_tenant[tenant] = per_tenant.get(tenant, 0) + 1
        for tenant, n in per_tenant.items():
            workers.add_metric([tenant], n)
        yield from (waiting, queue, running, workers)


class Metrics:
    """The service's metrics, in a registry of its own (so several apps can live in one process).

    `start` begins following the event log on a daemon thread; `close` stops it.
    """

    def __init__(self, svc: Any) -> None:
        self.svc = svc
        self.registry = CollectorRegistry()
        r = self.registry
        self.started = Counter("wfhost_executions_started", "Executions scheduled.", ["tenant"], registry=r)
        self.finished = Counter("wfhost_executions_finished", "Executions finished, by status.",
                                ["tenant", "status"], registry=r)
        self.tasks = Counter("wfhost_tasks", "Task attempts, by what happened: started, succeeded, "
                             "failed, retried.", ["tenant", "outcome"], registry=r)
        self.signals = Counter("wfhost_signals_delivered", "Signals delivered to executions.", ["tenant"],
                               registry=r)
        self.rejections = Counter("wfhost_quota_rejections", "Requests refused over a quota.",
                                  ["tenant", "quota"], registry=r)
        self.task_seconds = Histogram("wfhost_task_duration_seconds", "Task attempt duration.", ["tenant"],
                                      buckets=_BUCKETS, registry=r)
        self.start_seconds = Histogram("wfhost_schedule_to_start_seconds", "From scheduling an execution "
                                       "to its first task starting.", ["tenant"], buckets=_BUCKETS, registry=r)
        r.register(_Gauges(svc))
        self._last_id: int | None = None
        self._scheduled: dict[str, float] = {}
        self._task_started: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def quota_rejected(self, tenant: str, quota: str) -> None:
        """Count a request refused over ``quota``."""
        self.rejections.labels(tenant, quota).inc()

    def start(self) -> None:
        """Follow the event log from now on."""
        with self.svc.engine.connect() as conn:
            self._last_id = conn.execute(select(func.max(EV.c.id))).scalar() or 0
        self._thread = threading.Thread(target=self._run, name="wfhost-metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop following the event log."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(_TAIL_SECONDS):
            try:
                while self.follow() == _BATCH:
                    pass
            except Exception:  # a scrape must not die with the database; try again next second
                log.exception("metrics: reading the event log failed")

    def follow(self) -> int:
        """Count the events recorded since the last call; returns how many were read."""
        if self._last_id is None:
            self._last_id = 0
        q = (select(EV.c.id, EV.c.at, EV.c.kind, EV.c.task_id, EV.c.execution_uid, E.c.tenant)
             .select_from(EV.join(E, EV.c.execution_uid == E.c.uid))
             .where(EV.c.id > self._last_id).order_by(EV.c.id).limit(_BATCH))
        with self.svc.engine.connect() as conn:
            rows = conn.execute(q).all()
        for row in rows:
            self._count(row)
            self._last_id = row.id
        return len(rows)

    def _count(self, ev: Any) -> None:
        tenant, kind, uid = ev.tenant, ev.kind, ev.execution_uid
        if kind == "scheduled":
            self.started.labels(tenant).inc()
            self._scheduled[uid] = ev.at
        elif kind == "task_started":
            self.tasks.labels(tenant, "started").inc()
            self._task_started[(uid, ev.task_id)] = ev.at
            scheduled = self._scheduled.pop(uid, None)
            if scheduled is not None:
                self.start_seconds.labels(tenant).observe(max(0.0, ev.at - scheduled))
        elif kind in ("task_succeeded", "task_failed", "task_retrying", "task_waiting"):
            outcome = {"task_succeeded": "succeeded", "task_failed": "failed",
                       "task_retrying": "retried", "task_waiting": None}[kind]
            if outcome is not None:
                self.tasks.labels(tenant, outcome).inc()
            began = self._task_started.pop((uid, ev.task_id), None)
            if began is not None:
                self.task_seconds.labels(tenant).observe(max(0.0, ev.at - began))
        elif kind == "signal_received":
            self.signals.labels(tenant).inc()
        elif kind.startswith("execution_") and kind != "execution_retried":
            self.finished.labels(tenant, kind.removeprefix("execution_")).inc()
            self._scheduled.pop(uid, None)
