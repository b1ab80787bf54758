"""The scheduler's statements, run on the DB-API connection under SQLAlchemy's transaction.

The scheduler runs several of these per task, and SQLAlchemy's execution path
(even for a precompiled `text()`) costs more than SQLite takes to run them.
So each is written once in portable SQL with ``:name`` parameters and run
straight on the driver's cursor of the connection SQLAlchemy holds, inside
its transaction: SQLite takes ``:name`` as is; for psycopg the text is
rewritten once to ``%(name)s`` (psycopg then prepares it server-side after a
few runs). An ``IN :ids`` list becomes ``IN (SELECT value FROM
json_each(:ids))`` on SQLite and ``= ANY(:ids)`` on PostgreSQL, so the text
never changes with the list's length. SQLAlchemy's ``before_cursor_execute``
listeners still see every statement. SQLAlchemy stays for the schema,
migrations and everything off the hot path.
"""

from __future__ import annotations

import json
import re
from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from wfhost.errors import HostError

__all__ = [
    "CLAIM",
    "CURRENT",
    "DEPENDENCY_DONE",
    "EVENTS",
    "EXECUTION",
    "FINISH",
    "JOURNALS",
    "LOCK_EXECUTIONS",
    "MAKE_READY",
    "NEXT_DUE",
    "OUTPUTS",
    "READY",
    "READY_SKIP_LOCKED",
    "RETIRED",
    "Result",
    "SET_DEPS_LEFT",
    "SETTLE",
    "SET_STATUS",
    "SKIP",
    "START_EXECUTIONS",
    "STATES",
    "SUCCEED",
    "Statement",
    "TransactionLost",
    "savepoint",
    "TASK_RESULTS",
]

_PARAM = re.compile(r"(?<![:\w]):(\w+)")
_IN_LIST = re.compile(r"IN :(\w+)")


class Result:
    """What a statement returned: rows as named tuples, and the row count."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, cursor: Any) -> None:
        self.rowcount: int = cursor.rowcount
        if cursor.description is None:
            self._rows: list[Any] = []
        else:
            row = _row_type(tuple(d[0] for d in cursor.description))
            self._rows = [row._make(r) for r in cursor.fetchall()]

    def all(self) -> list[Any]:
        """Every row."""
        return self._rows

    def first(self) -> Any:
        """The first row, or ``None``."""
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        """The only row."""
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


_ROW_TYPES: dict[tuple[str, ...], Any] = {}


def _row_type(names: tuple[str, ...]) -> Any:
    row = _ROW_TYPES.get(names)
    if row is None:
        row = _ROW_TYPES[names] = namedtuple("Row", names, rename=True)  # noqa: PYI024
    return row


class Statement:
    """One SQL statement in portable form (``:name`` parameters, ``IN :list``)."""

    __slots__ = ("_lists", "_postgresql", "_sqlite", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._lists = tuple(_IN_LIST.findall(text))
        self._sqlite = _IN_LIST.sub(r"IN (SELECT value FROM json_each(:\1))", text)
        self._postgresql = _PARAM.sub(r"%(\1)s", _IN_LIST.sub(r"= ANY(:\1)", text))

    def _prepare(self, conn: Connection, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if conn.dialect.name == "postgresql":
            if self._lists:
                params = {**params, **{k: list(params[k]) for k in self._lists}}
            return self._postgresql, params
        if self._lists:
            params = {**params, **{k: json.dumps(list(params[k])) for k in self._lists}}
        return self._sqlite, params

    def run(self, conn: Connection, params: dict[str, Any] | None = None) -> Result:
        """Run once inside ``conn``'s transaction."""
        statement, values = self._prepare(conn, params or {})
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if conn.dispatch.before_cursor_execute:
                conn.dispatch.before_cursor_execute(conn, cursor, statement, values, None, False)
            cursor.execute(statement, values)
            return Result(cursor)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, statement, values, exc) from exc
        finally:
            cursor.close()

    def many(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
        """Run once per row (an executemany); returns the rows affected."""
        if not rows:
            return 0
        prepared = [self._prepare(conn, r) for r in rows]
        statement = prepared[0][0]
        values = [v for _s, v in prepared]
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if conn.dispatch.before_cursor_execute:
                conn.dispatch.before_cursor_execute(conn, cursor, statement, values, None, True)
            cursor.executemany(statement, values)
            return int(cursor.rowcount)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, statement, values, exc) from exc
        finally:
            cursor.close()


_SAVEPOINT = Statement("SAVEPOINT wfhost_write")
_RELEASE = Statement("RELEASE SAVEPOINT wfhost_write")
_ROLLBACK_TO = Statement("ROLLBACK TO SAVEPOINT wfhost_write")


class TransactionLost(HostError):
    """The database rolled back the whole transaction under a savepoint (an interrupt, an I/O error)."""

    code: ClassVar[str] = "transaction_lost"


@contextmanager
def savepoint(conn: Connection) -> Iterator[None]:
    """A savepoint on the DB-API: what the block wrote is undone if it raises (the error propagates).

    SQLAlchemy's ``begin_nested`` does the same at several times the cost; it
    may still be used inside (savepoints nest).

    Raises:
        TransactionLost: the block's error took the whole transaction with it
            (SQLite rolls back everything on some errors), from that error.
    """
    _SAVEPOINT.run(conn)
    try:
        yield
    except BaseException as exc:
        driver = conn.connection.driver_connection
        if conn.dialect.name == "sqlite" and not driver.in_transaction:  # type: ignore[union-attr]
            raise TransactionLost(f"the transaction was rolled back: {exc}") from exc
        try:
            _ROLLBACK_TO.run(conn)
            _RELEASE.run(conn)
        except Exception as lost:
            raise TransactionLost(f"the transaction was lost: {lost}") from exc
        raise
    _RELEASE.run(conn)


def _wrapped(conn: Connection, statement: str, values: Any, exc: Exception) -> BaseException:
    """The driver's error as SQLAlchemy would raise it (`sqlalchemy.exc.IntegrityError`, ...).

    Callers catch SQLAlchemy's classes whichever way a statement ran.
    """
    return DBAPIError.instance(statement, values, exc, conn.dialect.loaded_dbapi.Error,
                               dialect=conn.dialect)


SUCCEED = Statement(
    "UPDATE task_runs SET state='succeeded', output=:o, finished_at=:at, error=NULL, "
    "lease_owner=NULL, waiting_for=NULL, deadline=NULL "
    "WHERE execution_uid=:u AND task_id=:t AND state='running' AND attempt=:a")
CURRENT = Statement(
    "SELECT 1 FROM task_runs WHERE execution_uid=:u AND task_id=:t AND state='running' AND attempt=:a")
STATES = Statement(
    "SELECT task_id, state FROM task_runs WHERE execution_uid=:u AND task_id IN :ids"
)
MAKE_READY = Statement(
    "UPDATE task_runs SET state='ready', not_before=:at "
    "WHERE execution_uid=:u AND task_id=:t AND state='pending'")
# One dependency of each of these tasks finished: count it down, and say what is left
# (readiness costs O(1) per finished task, whatever the fan-in).
DEPENDENCY_DONE = Statement(
    "UPDATE task_runs SET deps_left = deps_left - 1 "
    "WHERE execution_uid=:u AND task_id IN :ids "
    "RETURNING task_id, deps_left, state")  # no state in WHERE: the primary key finds the rows
SET_DEPS_LEFT = Statement("UPDATE task_runs SET deps_left=:n WHERE execution_uid=:u AND task_id=:t")
SKIP = Statement(
    "UPDATE task_runs SET state='skipped', finished_at=:at "
    "WHERE execution_uid=:u AND task_id=:t AND state='pending'")
EVENTS = Statement(
    "INSERT INTO events (execution_uid, at, kind, task_id, detail) "
    "VALUES (:execution_uid, :at, :kind, :task_id, :detail)")
# What settling executions needs, in index seeks on (execution_uid, state): never a count
# of their tasks, which would make a long chain quadratic.
SETTLE = Statement(
    "SELECT e.uid, e.status, "
    "EXISTS (SELECT 1 FROM task_runs t WHERE t.execution_uid = e.uid "
    "AND t.state IN ('ready', 'running')) AS busy, "
    "EXISTS (SELECT 1 FROM task_runs t WHERE t.execution_uid = e.uid AND t.state = 'waiting') AS waiting, "
    "EXISTS (SELECT 1 FROM task_runs t WHERE t.execution_uid = e.uid AND t.state = 'pending') AS pending "
    "FROM executions e WHERE e.uid IN :uids")
EXECUTION = Statement("SELECT * FROM executions WHERE uid=:u")
SET_STATUS = Statement("UPDATE executions SET status=:s WHERE uid=:u")
TASK_RESULTS = Statement(
    "SELECT task_id, state, output, error, attempt FROM task_runs WHERE execution_uid=:u")
FINISH = Statement(
    "UPDATE executions SET status=:s, output=:o, error=:e, finished_at=:at WHERE uid=:u")
READY_SQL = (
    "SELECT t.execution_uid, t.task_id, t.attempt, t.started_at, e.tenant, e.id, e.package, e.workflow, "
    "e.version, e.package_version_id, e.input, e.status "
    "FROM task_runs t JOIN executions e ON e.uid = t.execution_uid "
    "WHERE t.state = 'ready' AND t.not_before <= :at "
    "ORDER BY t.not_before LIMIT :n")
READY = Statement(READY_SQL)
READY_SKIP_LOCKED = Statement(READY_SQL + " FOR UPDATE OF t SKIP LOCKED")
CLAIM = Statement(
    "UPDATE task_runs SET state='running', attempt=attempt+1, lease_owner=:h, started_at=:s, "
    "deadline=:d WHERE execution_uid=:u AND task_id=:t")
START_EXECUTIONS = Statement(
    "UPDATE executions SET status='running', started_at=COALESCE(started_at, :at) "
    "WHERE uid IN :uids AND status <> 'running'")
OUTPUTS = Statement(  # a superset (every pair of the two lists): the caller picks what it wants
    "SELECT execution_uid, task_id, output FROM task_runs "
    "WHERE execution_uid IN :uids AND task_id IN :ids")
JOURNALS = Statement(
    "SELECT execution_uid, task_id, seq, kind, name, result FROM journal "
    "WHERE execution_uid IN :uids ORDER BY seq")

NEXT_DUE = Statement(
    "SELECT (SELECT MIN(due_at) FROM waits WHERE status = 'open'), "
    "(SELECT MIN(not_before) FROM task_runs WHERE state = 'ready' AND not_before > :at), "
    "(SELECT MIN(deadline) FROM task_runs WHERE state = 'running' AND lease_owner = :h), "
    # One index seek per active status (ix_executions_due), however many executions wait.
    "(SELECT MIN(deadline) FROM executions WHERE status = 'pending' AND cancel_requested = FALSE), "
    "(SELECT MIN(deadline) FROM executions WHERE status = 'running' AND cancel_requested = FALSE), "
    "(SELECT MIN(deadline) FROM executions WHERE status = 'waiting' AND cancel_requested = FALSE)")
RETIRED = Statement(
    "SELECT p.id, p.tenant, p.name, p.version FROM package_versions p "
    "WHERE p.state = 'retired' AND NOT EXISTS (SELECT 1 FROM executions e WHERE "
    "e.package_version_id = p.id AND e.status IN ('pending', 'running', 'waiting'))")

# PostgreSQL only (several hosts): serialize outcome handling per execution.
LOCK_EXECUTIONS = Statement("SELECT uid FROM executions WHERE uid IN :uids ORDER BY uid FOR UPDATE")

# Signals and waits: a signal's transaction and a wait's durable call run these, once each
# (none reads more rows as more executions wait). ``FOR UPDATE`` variants are for PostgreSQL.
__all__ += [  # noqa: PLE0605
    "CANCEL_REQUESTED",
    "CANCEL_REQUESTED_FOR_UPDATE",
    "CHILD_VALUE",
    "JOURNAL_RECORD",
    "JOURNAL_RESULT",
    "OPEN_WAITS",
    "OPEN_WAITS_FOR_UPDATE",
    "PEEK_SIGNALS",
    "SET_WAITING_FOR",
    "SIGNAL_INSERT",
    "SIGNAL_TARGET",
    "SIGNAL_TARGET_KEY_SHARE",
    "TAKE_SIGNAL",
    "WAIT_CLOSE",
    "WAIT_INSERT",
    "WAIT_SPEC",
    "WAIT_STATUS",
    "WAIT_STATUS_FOR_UPDATE",
    "WAKE_TASK",
]

# PostgreSQL: a signal locks its execution's row, as a wait being opened (FOR UPDATE) and the
# scheduler recording an outcome (LOCK_EXECUTIONS) do, else each could miss the other's
# uncommitted rows (the wait stays open, the signal buffered, the task waiting). KEY SHARE:
# it conflicts with those FOR UPDATE locks only, not with the scheduler's UPDATEs of the row,
# so a turn that updates the task and then the execution cannot deadlock with a signal.
_SIGNAL_TARGET = "SELECT uid, status FROM executions WHERE tenant=:t AND id=:i"
SIGNAL_TARGET = Statement(_SIGNAL_TARGET)
SIGNAL_TARGET_KEY_SHARE = Statement(_SIGNAL_TARGET + " FOR KEY SHARE")
SIGNAL_INSERT = Statement(
    "INSERT INTO signals (execution_uid, name, payload, sender, sent_at, consumed) "
    "VALUES (:u, :n, :p, :s, :at, FALSE)")
# Consume the oldest unconsumed signal of a name in one statement. No row: none is left, or
# (PostgreSQL) another transaction took that one first; `PEEK_SIGNALS` tells which.
TAKE_SIGNAL = Statement(
    "UPDATE signals SET consumed=TRUE, consumed_by=:c WHERE id = (SELECT MIN(id) FROM signals "
    "WHERE execution_uid=:u AND name=:n AND consumed=FALSE) AND consumed=FALSE RETURNING payload")
PEEK_SIGNALS = Statement(
    "SELECT id FROM signals WHERE execution_uid=:u AND name=:n AND consumed=FALSE LIMIT :k")
_OPEN_WAITS = (
    "SELECT task_id, seq, spec FROM waits WHERE execution_uid=:u AND status='open' "
    "ORDER BY created_at, seq")
OPEN_WAITS = Statement(_OPEN_WAITS)
OPEN_WAITS_FOR_UPDATE = Statement(_OPEN_WAITS + " FOR UPDATE")
WAIT_SPEC = Statement("SELECT spec FROM waits WHERE execution_uid=:u AND task_id=:t AND seq=:s")
WAIT_INSERT = Statement(
    "INSERT INTO waits (execution_uid, task_id, seq, spec, status, created_at, due_at) "
    "VALUES (:u, :t, :s, :spec, 'open', :at, :due)")
_WAIT_STATUS = "SELECT status FROM waits WHERE execution_uid=:u AND task_id=:t AND seq=:s"
WAIT_STATUS = Statement(_WAIT_STATUS)
WAIT_STATUS_FOR_UPDATE = Statement(_WAIT_STATUS + " FOR UPDATE")
WAIT_CLOSE = Statement(
    "UPDATE waits SET status='done' WHERE execution_uid=:u AND task_id=:t AND seq=:s AND status='open'")
# A woken task keeps the ``not_before`` of its suspension: a turn that read the clock before
# this commit must still claim it (a later ``not_before`` would hide it and count as due).
WAKE_TASK = Statement(
    "UPDATE task_runs SET state='ready', waiting_for=NULL "
    "WHERE execution_uid=:u AND task_id=:t AND state='waiting'")
CHILD_VALUE = Statement("SELECT status, output, error FROM executions WHERE tenant=:t AND id=:i")
JOURNAL_RESULT = Statement("SELECT result FROM journal WHERE execution_uid=:u AND task_id=:t AND seq=:s")
JOURNAL_RECORD = Statement(
    "INSERT INTO journal (execution_uid, task_id, seq, kind, name, result, at) "
    "VALUES (:u, :t, :s, :k, :n, :r, :at)")
_CANCEL_REQUESTED = "SELECT cancel_requested FROM executions WHERE uid=:u"
CANCEL_REQUESTED = Statement(_CANCEL_REQUESTED)
CANCEL_REQUESTED_FOR_UPDATE = Statement(_CANCEL_REQUESTED + " FOR UPDATE")
SET_WAITING_FOR = Statement("UPDATE task_runs SET waiting_for=:w WHERE execution_uid=:u AND task_id=:t")
