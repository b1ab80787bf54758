"""Small shared helpers for Core SQL on the host's tables."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Connection, text

from .models import (
    EventRow,
    ExecutionRow,
    HostRow,
    JournalEntry,
    ScheduleRow,
    ScheduleRunRow,
    SignalRow,
    TaskRunRow,
    WaitRow,
)

__all__ = ["E", "EV", "H", "J", "S", "SC", "SR", "T", "W", "add_event", "dumps", "now"]

E = ExecutionRow.__table__  # type: ignore[attr-defined]
T = TaskRunRow.__table__  # type: ignore[attr-defined]
J = JournalEntry.__table__  # type: ignore[attr-defined]
W = WaitRow.__table__  # type: ignore[attr-defined]
S = SignalRow.__table__  # type: ignore[attr-defined]
EV = EventRow.__table__  # type: ignore[attr-defined]
H = HostRow.__table__  # type: ignore[attr-defined]
SC = ScheduleRow.__table__  # type: ignore[attr-defined]
SR = ScheduleRunRow.__table__  # type: ignore[attr-defined]


_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True)  # json.dumps would build one a call


def dumps(value: Any) -> str:
    """Compact, deterministic JSON."""
    return _ENCODER.encode(value)


def now() -> float:
    """Wall-clock UNIX time: what leases, timers and history use."""
    return time.time()


_SQL_EVENT = text(
    "INSERT INTO events (execution_uid, at, kind, task_id, detail) VALUES (:u, :at, :k, :t, :d)")


def add_event(conn: Connection, uid: str, kind: str, task_id: str | None = None,
              at: float | None = None, **detail: Any) -> None:
    """Append one line to an execution's history."""
    conn.execute(_SQL_EVENT, {"u": uid, "at": at or now(), "k": kind, "t": task_id,
                              "d": dumps(detail) if detail else None})
