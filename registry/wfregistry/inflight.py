"""The one owner of in-flight task attempts and of their cancellation.

An attempt is in flight from the moment the host hands it to an executor
until its outcome comes back (or it is given up: timed out, its worker
died). The scheduler asks `InFlight` how many attempts run (per tenant),
the dispatcher asks it where a durable call belongs, a worker pool asks it
which attempts a worker holds, and everyone asks it whether an execution
was cancelled. Nobody else keeps a map of running attempts.

Example::

    inflight = InFlight()
    inflight.add(Attempt(request, execution_uid="u1", package="shop", version="1.0.0"))
    inflight.cancel("acme", request.execution_id)   # -> the attempts to tell
    inflight.finish(request.run_id)                 # -> the attempt, once
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from wfpkg.protocol import TaskOutcome, TaskRequest

__all__ = ["Attempt", "InFlight"]


@dataclass(eq=False)
class Attempt:
    """One claimed attempt of one task: the request its task gets, and where it belongs.

    Attributes:
        request: what the task runs with (sent to a worker as is).
        execution_uid: the execution's row id in the host's store.
        package, version, package_version_id: the code it runs (``None`` for plain Python).
        on_done: receives the outcome (set by whoever submits the attempt).
        holder: the worker holding it, if it runs in a worker process.
        cancelled: cancellation of its execution was asked while it ran.
    """

    request: TaskRequest
    execution_uid: str = ""
    package: str = ""
    version: str | None = None
    package_version_id: int | None = None
    on_done: Callable[[TaskOutcome], None] | None = field(default=None, repr=False)
    holder: object | None = field(default=None, repr=False)
    cancelled: bool = False

    @property
    def uid(self) -> str:
        """Short for `execution_uid` (the name the scheduler's SQL uses)."""
        return self.execution_uid

    @property
    def run_id(self) -> str:
        """The host's id for this attempt."""
        return self.request.run_id

    @property
    def tenant(self) -> str:
        """The tenant it runs for."""
        return self.request.tenant

    @property
    def execution_id(self) -> str:
        """The execution's id (unique per tenant)."""
        return self.request.execution_id

    @property
    def task_id(self) -> str:
        """The task's id."""
        return self.request.task_id

    @property
    def attempt(self) -> int:
        """1 for the first attempt, 2 for the first retry, ..."""
        return self.request.attempt

    @property
    def workflow(self) -> str:
        """The workflow's name."""
        return self.request.workflow


class InFlight:
    """The attempts in flight on this host, and the executions whose cancellation was asked.

    Thread-safe; every method is short and never calls out while holding its lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Attempt] = {}
        self._cancelled: set[tuple[str, str]] = set()

    def add(self, attempt: Attempt) -> Attempt:
        """Record ``attempt`` as in flight (again, if it is already); returns it."""
        with self._lock:
            self._runs[attempt.run_id] = attempt
        return attempt

    def get(self, run_id: str) -> Attempt | None:
        """The attempt ``run_id`` if it is still in flight."""
        return self._runs.get(run_id)

    def hold(self, run_id: str, holder: object) -> bool:
        """Mark who runs ``run_id``; False if it is no longer in flight."""
        with self._lock:
            attempt = self._runs.get(run_id)
            if attempt is None:
                return False
            attempt.holder = holder
            return True

    def finish(self, run_id: str, holder: object | None = None) -> Attempt | None:
        """Take ``run_id`` out of flight and return it; ``None`` if it was not in flight (or,
        given ``holder``, if someone else holds it). Exactly one caller gets the attempt."""
        with self._lock:
            attempt = self._runs.get(run_id)
            if attempt is None or (holder is not None and attempt.holder is not holder):
                return None
            del self._runs[run_id]
            return attempt

    def held_by(self, holder: object) -> list[Attempt]:
        """The attempts ``holder`` runs, oldest first."""
        with self._lock:
            return [a for a in self._runs.values() if a.holder is holder]

    def finish_held_by(self, holder: object) -> list[Attempt]:
        """Take every attempt ``holder`` runs out of flight (its worker is gone) and return them."""
        with self._lock:
            gone = [a for a in self._runs.values() if a.holder is holder]
            for attempt in gone:
                del self._runs[attempt.run_id]
            return gone

    def find(self, execution_uid: str, task_id: str) -> Attempt | None:
        """The attempt in flight for one task of one execution, if any."""
        with self._lock:
            return next((a for a in self._runs.values()
                         if a.execution_uid == execution_uid and a.task_id == task_id), None)

    def count(self, tenant: str | None = None) -> int:
        """Attempts in flight (for one tenant)."""
        with self._lock:
            if tenant is None:
                return len(self._runs)
            return sum(1 for a in self._runs.values() if a.tenant == tenant)

    def per_tenant(self) -> dict[str, int]:
        """Attempts in flight, by tenant."""
        counts: dict[str, int] = {}
        with self._lock:
            for a in self._runs.values():
                counts[a.tenant] = counts.get(a.tenant, 0) + 1
        return counts

    def cancel(self, tenant: str, execution_id: str) -> list[Attempt]:
        """Note that the execution was cancelled; returns its attempts in flight (to be told)."""
        with self._lock:
            self._cancelled.add((tenant, execution_id))
            hit = [a for a in self._runs.values() if a.tenant == tenant and a.execution_id == execution_id]
            for attempt in hit:
                attempt.cancelled = True
            return hit

    def is_cancelled(self, attempt: Attempt) -> bool:
        """Whether cancellation of the attempt's execution was asked (what ``ctx.is_cancelled`` reads)."""
        return attempt.cancelled or (attempt.tenant, attempt.execution_id) in self._cancelled

    def forget(self, tenant: str, execution_id: str) -> None:
        """Drop what is known of a finished execution (its attempts still running keep their mark)."""
        with self._lock:
            self._cancelled.discard((tenant, execution_id))
