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

from sqlalchemy import Connection

from wfhost.store import _sql as sql
from wfhost.store._db import dumps
from wfpkg.protocol import TERMINAL_EXECUTION, WaitCall, WaitDone, encode_result

__all__ = ["describe", "event_row", "open_wait", "resolve_waits", "try_resolve", "write_events"]

# Signals and waits are on the hot path of every resume: their statements (`wfhost.store._sql`)
# run on the driver's cursor; none reads more rows as more executions wait.


def event_row(uid: str, kind: str, task_id: str | None, at: float, **detail: Any) -> dict[str, Any]:
    """One line of an execution's history, for `write_events` (a batch per transaction)."""
    return {"execution_uid": uid, "at": at, "kind": kind, "task_id": task_id,
            "detail": dumps(detail) if detail else None}


def write_events(conn: Connection, events: list[dict[str, Any]]) -> None:
    """Append `event_row` lines to the history in one executemany."""
    if events:
        sql.EVENTS.many(conn, events)


def open_wait(conn: Connection, uid: str, task_id: str, seq: int, call: WaitCall,
              at: float) -> dict[str, Any]:
    """Record the wait (once; a re-run finds the first record and its timer due times).

    The row's ``spec`` is the call's JSON with each timer's due time added.
    """
    row = sql.WAIT_SPEC.run(conn, {"u": uid, "t": task_id, "s": seq}).first()
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
    sql.WAIT_INSERT.run(conn, {"u": uid, "t": task_id, "s": seq, "spec": dumps(spec), "at": at,
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
    row = sql.CHILD_VALUE.run(conn, {"t": tenant, "i": child_id}).first()
    if row is None or row.status not in TERMINAL_EXECUTION:
        return None
    return {"id": child_id, "status": row.status,
            "output": json.loads(row.output) if row.output else None, "error": row.error}


def _take_signal(conn: Connection, uid: str, name: str, consumer: str) -> Any:
    """Consume the oldest unconsumed signal ``name``; return ``(True, payload)`` or ``(False, None)``."""
    params = {"u": uid, "n": name, "c": consumer}
    while True:
        row = sql.TAKE_SIGNAL.run(conn, params).first()
        if row is not None:
            return True, json.loads(row.payload)
        if not _peek_signal(conn, uid, name, 1):  # none left (else another transaction won that one)
            return False, None


def _peek_signal(conn: Connection, uid: str, name: str, count: int) -> bool:
    return len(sql.PEEK_SIGNALS.run(conn, {"u": uid, "n": name, "k": count}).all()) >= count


def try_resolve(conn: Connection, tenant: str, uid: str, task_id: str, seq: int,
                spec: dict[str, Any], at: float, *, events: list[dict[str, Any]] | None = None,
                locked: bool = False) -> WaitDone | None:
    """Resolve the wait if it can be now: consume, journal, close. Returns the result or ``None``.

    ``locked``: the caller read the wait as open under a lock (`resolve_waits`).
    ``events``: where to add the ``wait_resolved`` line (else it is written at once).
    """
    if not locked:
        # Lock the wait first (PostgreSQL; SQLite writers are serialized already), so that two
        # transactions never both consume something for it.
        status = sql.WAIT_STATUS_FOR_UPDATE if conn.dialect.name == "postgresql" else sql.WAIT_STATUS
        state = status.run(conn, {"u": uid, "t": task_id, "s": seq}).first()
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
    closed = sql.WAIT_CLOSE.run(conn, {"u": uid, "t": task_id, "s": seq}).rowcount
    if not closed:  # someone else resolved it first; their journal entry stands
        return None
    sql.JOURNAL_RECORD.run(conn, {"u": uid, "t": task_id, "s": seq, "k": "wait", "n": spec.get("name", ""),
                                  "r": dumps(encode_result(result)), "at": at})
    line = event_row(uid, "wait_resolved", task_id, at, seq=seq, result=_summary(result, waits))
    if events is None:
        write_events(conn, [line])
    else:
        events.append(line)
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
                  only_signal: str | None = None, *,
                  events: list[dict[str, Any]] | None = None) -> list[str]:
    """Try every open wait of one execution; make resolved tasks ready. Returns those task ids.

    The open waits are read under a lock on PostgreSQL (SQLite writers are serialized), so
    each is resolved at most once. ``events``: as for `try_resolve`.
    """
    woken: list[str] = []
    mine = [] if events is None else events
    waits = sql.OPEN_WAITS_FOR_UPDATE if conn.dialect.name == "postgresql" else sql.OPEN_WAITS
    for row in waits.run(conn, {"u": uid}):
        spec = json.loads(row.spec)
        if only_signal is not None and not any(
                w["type"] == "signal" and w["name"] == only_signal for w in spec["waits"]):
            continue
        if try_resolve(conn, tenant, uid, row.task_id, row.seq, spec, at, events=mine,
                       locked=True) is not None:
            woken.append(row.task_id)
            sql.WAKE_TASK.run(conn, {"u": uid, "t": row.task_id})
    if events is None:
        write_events(conn, mine)
    return woken
