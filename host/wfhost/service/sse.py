"""Server-Sent Events for one execution: its history as it grows, its status as it changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ._json import to_json

__all__ = ["stream"]

TERMINAL = ("succeeded", "failed", "cancelled")
FAST, SLOW = 0.2, 1.0  # seconds between looks: fast after a change, slowing to SLOW while idle


def _frame(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _shape(state: dict[str, Any]) -> Any:
    """What a watcher sees change: the status and each task's state and wait."""
    return (state["status"], [(t["task"], t["state"], t["waiting_for"]) for t in state["tasks"]])


async def stream(svc: Any, tenant: str, execution_id: str, request: Request) -> AsyncIterator[str]:
    """``history`` events as they are recorded, ``status`` on each change, ``end`` at the finish.

    The status is read every `FAST` seconds after a change, backing off to
    `SLOW` while nothing happens; the history is read when the status changed
    or every `SLOW` seconds, so an idle watcher costs about one query a second.
    """
    seen = 0
    last: Any = None
    delay = FAST
    since_history = SLOW
    while not await request.is_disconnected():
        state = await run_in_threadpool(svc.client.status, execution_id, tenant=tenant)
        data = to_json(state)
        changed = _shape(data) != last
        if changed or since_history >= SLOW or data["status"] in TERMINAL:
            events = await run_in_threadpool(svc.client.history, execution_id, tenant=tenant)
            for event in events[seen:]:
                yield _frame("history", to_json(event))
            seen, since_history = len(events), 0.0
        if changed:
            last = _shape(data)
            yield _frame("status", data)
        if data["status"] in TERMINAL:
            yield _frame("end", {"id": execution_id, "status": data["status"]})
            return
        delay = FAST if changed else min(SLOW, delay * 1.5)
        await asyncio.sleep(delay)
        since_history += delay
