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
POLL_SECONDS = 0.2


def _frame(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _shape(state: dict[str, Any]) -> Any:
    """What a watcher sees change: the status and each task's state and wait."""
    return (state["status"], [(t["task"], t["state"], t["waiting_for"]) for t in state["tasks"]])


async def stream(svc: Any, tenant: str, execution_id: str, request: Request) -> AsyncIterator[str]:
    """``history`` events as they are recorded, ``status`` on each change, ``end`` at the finish."""
    seen = 0
    last: Any = None
    while not await request.is_disconnected():
        state = await run_in_threadpool(svc.client.status, execution_id, tenant=tenant)
        events = await run_in_threadpool(svc.client.history, execution_id, tenant=tenant)
        for event in events[seen:]:
            yield _frame("history", to_json(event))
        seen = len(events)
        data = to_json(state)
        if _shape(data) != last:
            last = _shape(data)
            yield _frame("status", data)
        if data["status"] in TERMINAL:
            yield _frame("end", {"id": execution_id, "status": data["status"]})
            return
        await asyncio.sleep(POLL_SECONDS)
