"""Cron schedules: rows that start an execution at each tick, exactly once across hosts.

A schedule is a row with its next tick. Every host runs a `Ticker`; the one
whose compare-and-set moves ``next_tick_at`` forward fires the due ticks, in
the same transaction. Each tick starts an execution with the deterministic id
``NAME-<tick time>`` (ISO 8601 basic, UTC), so even a replayed tick cannot start a
second one, and `ScheduleRunRow` records what each tick did. Missed ticks
(no host ran) follow the schedule's catch-up policy; ``overlap skip`` starts
nothing while the schedule's previous execution still runs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from wfhost._time import rfc3339
from wfhost.errors import Conflict, HostError, InvalidRequest, NotFound
from wfhost.store._db import SC, SR, E
from wfpkg import InvalidName
from wfpkg.names import check_name
from wfpkg.protocol import ACTIVE_EXECUTION

from .catalog import Catalog, Target
from .cron import Catchup, CronSpec, Overlap, due_ticks
from .executions import check_payload, create_execution

__all__ = ["RECENT_RUNS", "ScheduleInfo", "ScheduleRun", "Schedules", "Ticker", "execution_id_for"]

RECENT_RUNS: Final = 20
IDLE_SECONDS: Final = 10.0
"""The longest a ticker sleeps without looking (new schedules from other processes)."""

log = logging.getLogger("wfhost.schedules")


@dataclass(frozen=True)
class ScheduleRun:
    """What one tick did: ``started`` (an execution), ``exists``, ``skipped`` (overlap) or ``failed``."""

    tick_at: float
    fired_at: float
    outcome: str
    execution_id: str | None
    detail: str | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (times in RFC 3339)."""
        return {"tick_at": rfc3339(self.tick_at), "fired_at": rfc3339(self.fired_at),
                "outcome": self.outcome, "execution_id": self.execution_id, "detail": self.detail}


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule, its next tick and its most recent runs (newest first)."""

    tenant: str
    name: str
    workflow: str
    cron: str
    timezone: str
    input: dict[str, Any]
    catchup: Catchup
    overlap: Overlap
    paused: bool
    next_tick_at: float | None
    runs: list[ScheduleRun] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (times in RFC 3339)."""
        return {"tenant": self.tenant, "name": self.name, "workflow": self.workflow,
                "cron": self.cron, "timezone": self.timezone, "input": self.input,
                "catchup": self.catchup.value, "overlap": self.overlap.value, "paused": self.paused,
                "next_tick_at": rfc3339(self.next_tick_at),
                "runs": [r.to_dict() for r in self.runs]}


def execution_id_for(name: str, tick_at: float) -> str:
    """The id of the execution a tick starts: ``NAME-20261123T100000Z`` (ISO 8601 basic, UTC).

    Schedule names cannot contain ``-``, so the id always splits back into the
    schedule and its tick; the basic format keeps to the execution-id alphabet.
    """
    return f"{name}-{datetime.fromtimestamp(tick_at, timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"


class Schedules:
    """The operations on one tenant's schedules (each its own transaction).

    Args:
        engine: the store (owned by the caller).
        catalog: resolves workflow names, as `Client.schedule` does.
    """

    def __init__(self, engine: Engine, catalog: Catalog) -> None:
        self._engine = engine
        self._catalog = catalog

    def add(self, tenant: str, name: str, workflow: str, cron: str, *, timezone: str = "UTC",
            input: Any = None, catchup: str = "skip",  # noqa: A002 - checked: a JSON object
            overlap: str = "allow", at: float) -> ScheduleInfo:
        """Create a schedule; its first tick is the first one after ``at``.

        Raises:
            InvalidRequest: a bad name, cron expression, time zone, policy or input.
            NotFound: the workflow does not resolve for the tenant.
            Conflict: the tenant already has a schedule of that name.
        """
        try:
            check_name(name, "schedule name")
        except InvalidName as exc:
            raise InvalidRequest(str(exc)) from None
        spec = CronSpec.parse(cron, timezone)
        policy = _enum(Catchup, catchup, "catch-up policy")
        overlapping = _enum(Overlap, overlap, "overlap policy")
        if input is not None and not isinstance(input, dict):
            raise InvalidRequest(f"schedule input must be a JSON object, not {type(input).__name__}")
        payload = check_payload(input or {}, "schedule input")
        self._catalog.resolve(tenant, workflow)  # a typo fails now, not at the first tick
        row = {"tenant": tenant, "name": name, "workflow": workflow, "cron": spec.expr,
               "timezone": spec.timezone, "input": payload, "catchup": policy.value,
               "overlap": overlapping.value, "paused": False,
               "next_tick_at": spec.next_after(at), "created_at": at}
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(SC).values(**row))
        except IntegrityError:
            raise Conflict(f"tenant {tenant!r} already has a schedule named {name!r}") from None
        return self.get(tenant, name)

    def get(self, tenant: str, name: str) -> ScheduleInfo:
        """One schedule with its last `RECENT_RUNS` runs; `NotFound` if there is none."""
        with self._engine.connect() as conn:
            row = _find(conn, tenant, name)
            return _info(row, _recent_runs(conn, row.id))

    def for_tenant(self, tenant: str) -> list[ScheduleInfo]:
        """The tenant's schedules by name, each with its last `RECENT_RUNS` runs."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(SC).where(SC.c.tenant == tenant).order_by(SC.c.name)).all()
            return [_info(r, _recent_runs(conn, r.id)) for r in rows]

    def pause(self, tenant: str, name: str) -> ScheduleInfo:
        """Stop firing until `resume`; ticks while paused are not caught up."""
        with self._engine.begin() as conn:
            row = _find(conn, tenant, name)
            conn.execute(update(SC).where(SC.c.id == row.id).values(paused=True))
        return self.get(tenant, name)

    def resume(self, tenant: str, name: str, *, at: float) -> ScheduleInfo:
        """Fire again from the first tick after ``at``."""
        with self._engine.begin() as conn:
            row = _find(conn, tenant, name)
            spec = CronSpec(row.cron, row.timezone)
            values: dict[str, Any] = {"paused": False}
            if row.paused:
                values["next_tick_at"] = spec.next_after(at)
            conn.execute(update(SC).where(SC.c.id == row.id).values(**values))
        return self.get(tenant, name)

    def delete(self, tenant: str, name: str) -> None:
        """Remove a schedule and its run records (executions it started stay)."""
        with self._engine.begin() as conn:
            row = _find(conn, tenant, name)
            conn.execute(delete(SR).where(SR.c.schedule_id == row.id))
            conn.execute(delete(SC).where(SC.c.id == row.id))

    def trigger(self, tenant: str, name: str, *, at: float) -> str:
        """Start the schedule's workflow now, outside its cron (paused or not); returns the id."""
        with self._engine.connect() as conn:
            row = _find(conn, tenant, name)
        target = self._catalog.resolve(tenant, row.workflow)
        with self._engine.begin() as conn:
            run = _fire(conn, row, at, at, target)
        if run.execution_id is None:
            raise Conflict(f"schedule {name!r} did not start: {run.detail}")
        return run.execution_id


class Ticker:
    """Fires the due ticks of every tenant's schedules; one per host.

    Args:
        engine: the store (owned by the caller).
        catalog: resolves the schedules' workflows.
        on_started: called after a commit that started executions (wake the scheduler).
    """

    def __init__(self, engine: Engine, catalog: Catalog, on_started: Callable[[], None]) -> None:
        self._engine = engine
        self._catalog = catalog
        self._on_started = on_started
        self._wake = threading.Event()

    def wake(self) -> None:
        """Look now (a schedule was added or resumed, here or in another process)."""
        self._wake.set()

    def run(self, stop: threading.Event, clock: Callable[[], float] = time.time) -> None:
        """Fire ticks as they fall due until ``stop`` is set (the host's cron thread)."""
        while not stop.is_set():
            try:
                delay = self.run_once(clock())
            except Exception:  # the store is away: try again shortly
                log.exception("firing schedules failed; retrying in %.0fs", IDLE_SECONDS)
                delay = IDLE_SECONDS
            self._wake.wait(delay)
            self._wake.clear()

    def run_once(self, now: float) -> float:
        """Fire every tick due at ``now``; return seconds until the next one is due."""
        with self._engine.connect() as conn:
            due = conn.execute(select(SC).where(SC.c.paused.is_(False), SC.c.next_tick_at <= now)
                               .order_by(SC.c.next_tick_at)).all()
        started = 0
        for row in due:
            try:
                started += self._fire_due(row, now)
            except Exception:  # one broken schedule must not stop the others
                log.exception("schedule %s::%s failed to fire", row.tenant, row.name)
        if started:
            self._on_started()
        with self._engine.connect() as conn:
            nxt = conn.execute(select(func.min(SC.c.next_tick_at)).where(
                SC.c.paused.is_(False))).scalar()
        return IDLE_SECONDS if nxt is None else min(IDLE_SECONDS, max(0.0, nxt - now))

    def _fire_due(self, row: Any, now: float) -> int:
        spec = CronSpec(row.cron, row.timezone)
        ticks, following = due_ticks(spec, row.next_tick_at, now, Catchup(row.catchup))
        target: Target | HostError
        try:
            target = self._catalog.resolve(row.tenant, row.workflow)
        except HostError as exc:
            target = exc
        started = 0
        with self._engine.begin() as conn:
            # Compare-and-set: of all the hosts that saw this tick due, one moves it on.
            moved = conn.execute(update(SC).where(
                SC.c.id == row.id, SC.c.next_tick_at == row.next_tick_at, SC.c.paused.is_(False)
            ).values(next_tick_at=following)).rowcount
            if not moved:
                return 0
            for tick in ticks:
                started += _fire(conn, row, tick, now, target).outcome == "started"
        return started


def _fire(conn: Connection, row: Any, tick: float, now: float, target: Target | HostError) -> ScheduleRun:
    """Start the execution of one tick (or record why not) in the caller's transaction."""
    eid = execution_id_for(row.name, tick)
    outcome: str = "started"
    detail: str | None = None
    started_id: str | None = eid
    if row.overlap == Overlap.SKIP.value and _still_running(conn, row):
        outcome, detail, started_id = "skipped", "the previous run is still running", None
    elif isinstance(target, HostError):
        outcome, detail, started_id = "failed", str(target), None
    else:
        try:
            with conn.begin_nested():
                created = create_execution(
                    conn, tenant=row.tenant, plan=target.plan, package=target.package,
                    version=target.version, package_version_id=target.package_version_id,
                    input=json.loads(row.input), at=now, execution_id=eid)
            if not created.created:
                outcome = "exists"
        except HostError as exc:
            outcome, detail, started_id = "failed", str(exc), None
    try:
        with conn.begin_nested():
            conn.execute(insert(SR).values(schedule_id=row.id, tick_at=tick, fired_at=now,
                                           execution_id=started_id, outcome=outcome, detail=detail))
    except IntegrityError:  # this tick was recorded already (a manual trigger at the same instant)
        pass
    return ScheduleRun(tick, now, outcome, started_id, detail)


def _still_running(conn: Connection, row: Any) -> bool:
    ids = select(SR.c.execution_id).where(SR.c.schedule_id == row.id, SR.c.execution_id.is_not(None))
    found = conn.execute(select(E.c.uid).where(
        E.c.tenant == row.tenant, E.c.id.in_(ids), E.c.status.in_(sorted(ACTIVE_EXECUTION))).limit(1)).first()
    return found is not None


def _find(conn: Connection, tenant: str, name: str) -> Any:
    row = conn.execute(select(SC).where(SC.c.tenant == tenant, SC.c.name == name)).first()
    if row is None:
        raise NotFound(f"no schedule {name!r} for tenant {tenant!r}")
    return row


def _recent_runs(conn: Connection, schedule_id: int) -> list[ScheduleRun]:
    rows = conn.execute(select(SR).where(SR.c.schedule_id == schedule_id)
                        .order_by(SR.c.id.desc()).limit(RECENT_RUNS)).all()
    return [ScheduleRun(r.tick_at, r.fired_at, r.outcome, r.execution_id, r.detail) for r in rows]


def _info(row: Any, runs: list[ScheduleRun]) -> ScheduleInfo:
    return ScheduleInfo(row.tenant, row.name, row.workflow, row.cron, row.timezone,
                        json.loads(row.input), Catchup(row.catchup), Overlap(row.overlap),
                        bool(row.paused), None if row.paused else row.next_tick_at, runs)


def _enum(cls: Any, value: str, what: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        valid = ", ".join(m.value for m in cls)
        raise InvalidRequest(f"unknown {what} {value!r}: use one of {valid}") from None

