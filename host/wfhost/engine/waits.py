"""Durable waits: recording what a task waits for, and resolving it exactly once.

A wait is a row keyed by (execution, task, seq). It is resolved in the same
transaction that consumes what satisfied it (the oldest unconsumed signal of
that name, a due timer, a finished child) and writes the journal entry the
task will replay; the task is then made ready to run again. Whoever notices
first resolves it: the task itself when the wait is first made, a sender of
a signal, or a scheduler when a timer falls due or a child finishes.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, select, text

from wfhost.store._db import E, S, add_event, dumps
from wfpkg.protocol import TERMINAL_EXECUTION, WaitCall, WaitDone, encode_result

__all__ = ["describe", "open_wait", "resolve_waits", "try_resolve"]

# Signals and waits are on the hot path of every resume: plain SQL, compiled once.
_SQL_WAIT_SPEC = text("SELECT spec FROM waits WHERE execution_uid=:u AND task_id=:t AND seq=:s")
_SQL_WAIT_INSERT = text(
    "INSERT INTO waits (execution_uid, task_id, seq, spec, status, created_at, due_at) "
    "VALUES (:u, :t, :s, :spec, 'open', :at, :due)")
_SQL_WAIT_STATUS = "SELECT status FROM waits WHERE execution_uid=:u AND task_id=:t AND seq=:s"
_SQL_WAIT_CLOSE = text(
    "UPDATE waits SET status='done' WHERE execution_uid=:u AND task_id=:t AND seq=:s AND status='open'")
_SQL_OLDEST_SIGNAL = text(
    "SELECT id, payload FROM signals WHERE execution_uid=:u AND name=:n AND consumed=FALSE "
    "ORDER BY id LIMIT 1")
_SQL_TAKE_SIGNAL = text(
    "UPDATE signals SET consumed=TRUE, consumed_by=:c WHERE id=:id AND consumed=FALSE")
_SQL_JOURNAL = text(
    "INSERT INTO journal (execution_uid, task_id, seq, kind, name, result, at) "
    "VALUES (:u, :t, :s, 'wait', :n, :r, :at)")
_SQL_OPEN_WAITS = text(
    "SELECT task_id, seq, spec FROM waits WHERE execution_uid=:u AND status='open' "
    "ORDER BY created_at, seq")
_SQL_WAKE_TASK = text(
    "UPDATE task_runs SET state='ready', not_before=:at, waiting_for=NULL "
    "WHERE execution_uid=:u AND task_id=:t AND state='waiting'")


def open_wait(conn: Connection, uid: str, task_id: str, seq: int, call: WaitCall,
              at: float) -> dict[str, Any]:
    """Record the wait (once; a re-run finds the first record and its timer due times).

    The row's ``spec`` is the call's JSON with each timer's due time added.
    """
    row = conn.execute(_SQL_WAIT_SPEC, {"u": uid, "t": task_id, "s": seq}).first()
    if row is not None:
        recorded: dict[str, Any] = json.loads(row.spec)
        return recorded
    waits = []
    dues = []
    for wait in call.waits:
        w = wait.to_json()
        if w["type"] == "timer":
            w["due"] = at + float(w["seconds"])
            dues.append(w["due"])
        waits.append(w)
    spec: dict[str, Any] = {"waits": waits, "mode": call.mode, "name": call.name}
    if call.timeout is not None:
        spec["timeout_due"] = at + call.timeout
        dues.append(spec["timeout_due"])
    conn.execute(_SQL_WAIT_INSERT, {"u": uid, "t": task_id, "s": seq, "spec": dumps(spec), "at": at,
                                    "due": min(dues) if dues else None})
    return spec


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")


def describe(spec: dict[str, Any]) -> str:
    """What a wait waits for, for `wfhost status`."""
    parts = []
    for w in spec["waits"]:
        if w["type"] == "signal":
            parts.append(f"signal {w['name']!r}")
        elif w["type"] == "timer":
            parts.append(f"timer due {_when(w['due'])}")
        else:
            parts.append(f"child {w['id']!r}")
    joined = (" or " if spec.get("mode") == "any" else " and ").join(parts)
    if spec.get("timeout_due") is not None:
        joined += f" (timeout at {_when(spec['timeout_due'])})"
    return joined


def _child_value(conn: Connection, tenant: str, child_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(E.c.status, E.c.output, E.c.error).where(
        E.c.tenant == tenant, E.c.id == child_id)).first()
    if row is None or row.status not in TERMINAL_EXECUTION:
        return None
    return {"id": child_id, "status": row.status,
            "output": json.loads(row.output) if row.output else None, "error": row.error}


def _take_signal(conn: Connection, uid: str, name: str, consumer: str) -> Any:
    """Consume the oldest unconsumed signal ``name``; return ``(True, payload)`` or ``(False, None)``."""
    while True:
        row = conn.execute(_SQL_OLDEST_SIGNAL, {"u": uid, "n": name}).first()
        if row is None:
            return False, None
        taken = conn.execute(_SQL_TAKE_SIGNAL, {"id": row.id, "c": consumer}).rowcount
        if taken:
            return True, json.loads(row.payload)


def _peek_signal(conn: Connection, uid: str, name: str, count: int) -> bool:
    rows = conn.execute(select(S.c.id).where(
        S.c.execution_uid == uid, S.c.name == name, S.c.consumed.is_(False)).limit(count)).all()
    return len(rows) >= count


def try_resolve(conn: Connection, tenant: str, uid: str, task_id: str, seq: int,
                spec: dict[str, Any], at: float) -> WaitDone | None:
    """Resolve the wait if it can be now: consume, journal, close. Returns the result or ``None``."""
    # Lock the wait first (PostgreSQL; SQLite writers are serialized already), so that two
    # transactions never both consume something for it.
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    state = conn.execute(text(_SQL_WAIT_STATUS + lock), {"u": uid, "t": task_id, "s": seq}).first()
    if state is None or state.status != "open":
        return None
    consumer = f"{task_id}#{seq}"
    waits = spec["waits"]
    result: WaitDone | None = None
    if spec.get("mode", "any") == "any":
        for i, w in enumerate(waits):
            if w["type"] == "signal":
                ok, payload = _take_signal(conn, uid, w["name"], consumer)
                if ok:
                    result = WaitDone(i, payload)
            elif w["type"] == "timer":
                if w["due"] <= at:
                    result = WaitDone(i, None)
            else:
                value = _child_value(conn, tenant, w["id"])
                if value is not None:
                    result = WaitDone(i, value)
            if result is not None:
                break
    else:
        needed: dict[str, int] = {}
        for w in waits:
            if w["type"] == "signal":
                needed[w["name"]] = needed.get(w["name"], 0) + 1
        values: list[Any] = []
        ready = all(_peek_signal(conn, uid, n, c) for n, c in needed.items())
        for w in waits if ready else ():
            if w["type"] == "timer":
                if w["due"] > at:
                    ready = False
                    break
                values.append(None)
            elif w["type"] == "child":
                value = _child_value(conn, tenant, w["id"])
                if value is None:
                    ready = False
                    break
                values.append(value)
            else:
                values.append(None)
        if ready:
            for i, w in enumerate(waits):
                if w["type"] == "signal":
                    values[i] = _take_signal(conn, uid, w["name"], consumer)[1]
            result = WaitDone(values=values)
    if result is None and spec.get("timeout_due") is not None and spec["timeout_due"] <= at:
        result = WaitDone(timed_out=True)
    if result is None:
        return None
    closed = conn.execute(_SQL_WAIT_CLOSE, {"u": uid, "t": task_id, "s": seq}).rowcount
    if not closed:  # someone else resolved it first; their journal entry stands
        return None
    name = spec.get("name", "")
    conn.execute(_SQL_JOURNAL, {"u": uid, "t": task_id, "s": seq, "n": name, "r": dumps(encode_result(result)),
                                "at": at})
    add_event(conn, uid, "wait_resolved", task_id, at=at, seq=seq, result=_summary(result, waits))
    return result


def _summary(result: WaitDone, waits: list[dict[str, Any]]) -> str:
    if result.timed_out:
        return "timeout"
    if result.values is not None:
        return "all done"
    w = waits[result.index or 0]
    return {"signal": f"signal {w.get('name')}", "timer": "timer fired",
            "child": f"child {w.get('id')} finished"}[w["type"]]


def resolve_waits(conn: Connection, tenant: str, uid: str, at: float,
                  only_signal: str | None = None) -> list[str]:
    """Try every open wait of one execution; make resolved tasks ready. Returns those task ids."""
    woken: list[str] = []
    rows = conn.execute(_SQL_OPEN_WAITS, {"u": uid}).all()
    for row in rows:
        spec = json.loads(row.spec)
        if only_signal is not None and not any(
                w["type"] == "signal" and w["name"] == only_signal for w in spec["waits"]):
            continue
        if try_resolve(conn, tenant, uid, row.task_id, row.seq, spec, at) is not None:
            woken.append(row.task_id)
            conn.execute(_SQL_WAKE_TASK, {"u": uid, "t": row.task_id, "at": at})
    return woken
