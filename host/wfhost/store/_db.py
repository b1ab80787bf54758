"""Small shared helpers for Core SQL on the host's tables."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Connection, text

from . import tables

__all__ = ["E", "EV", "H", "J", "S", "SC", "SR", "T", "W", "add_event", "dumps", "now"]

# The Core tables (generated from the SQLModel models in `models`, without importing them).
E = tables.executions
T = tables.task_runs
J = tables.journal
W = tables.waits
S = tables.signals
EV = tables.events
H = tables.hosts
SC = tables.schedules
SR = tables.schedule_runs


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
