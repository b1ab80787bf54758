"""Polling helpers for tests of durable waits: wait for a state, never sleep a guessed amount.

Example::

    eid = host.client.schedule("local::approval", {})
    task_state(host.client, eid, "decide", "waiting")     # the task has suspended on its wait
    host.client.signal(eid, "approval", {"approved": True})
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from wfpkg.protocol import TERMINAL_EXECUTION

__all__ = ["execution_state", "task_state", "until"]

T = TypeVar("T")


def until(probe: Callable[[], T], what: str, timeout: float = 20.0, interval: float = 0.01) -> T:
    """Call ``probe`` until it returns something truthy; return it, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.1)


def _status(client: Any, execution_id: str, tenant: str | None) -> dict[str, Any] | None:
    """The status, or ``None`` while the execution does not exist yet (a child not started)."""
    from wfhost import NotFound

    try:
        return client.status(execution_id, tenant=tenant)  # type: ignore[no-any-return]
    except NotFound:
        return None


def task_state(client: Any, execution_id: str, task: str, state: str, *,
               tenant: str | None = None, timeout: float = 20.0) -> dict[str, Any]:
    """Wait until ``task`` of ``execution_id`` (which may not exist yet) is in ``state``; return its entry."""

    def probe() -> dict[str, Any] | None:
        status = _status(client, execution_id, tenant)
        if status is None:
            return None
        entry = next(t for t in status["tasks"] if t["task"] == task)
        if entry["state"] == state:
            return entry
        if status["status"] in TERMINAL_EXECUTION:
            raise AssertionError(
                f"{execution_id} finished {status['status']} ({status['error']}) while waiting "
                f"for task {task!r} to be {state!r}; task is {entry['state']!r}")
        return None

    return until(probe, f"task {task!r} of {execution_id} to be {state!r}", timeout)


def execution_state(client: Any, execution_id: str, state: str, *, tenant: str | None = None,
                    timeout: float = 20.0) -> dict[str, Any]:
    """Wait until the execution's status is ``state``; return its status."""

    def probe() -> dict[str, Any] | None:
        status = _status(client, execution_id, tenant)
        return status if status is not None and status["status"] == state else None

    return until(probe, f"{execution_id} to be {state!r}", timeout)
