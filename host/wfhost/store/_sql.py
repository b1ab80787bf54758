"""The scheduler's statements, in plain SQL compiled once.

Building SQLAlchemy Core expressions costs more than running these queries,
and the scheduler runs several per task, so the hot ones are written here as
`text()` (portable between SQLite and PostgreSQL; dialect differences are
added where they are used, e.g. ``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

from sqlalchemy import bindparam, text

__all__ = [
    "CLAIM",
    "COUNTS",
    "CURRENT",
    "EXECUTION",
    "FINISH",
    "JOURNALS",
    "MAKE_READY",
    "NEXT_DUE",
    "OUTPUTS",
    "READY",
    "LOCK_EXECUTIONS",
    "RETIRED",
    "SET_STATUS",
    "START_EXECUTIONS",
    "STATES",
    "SUCCEED",
    "TASK_RESULTS",
]

SUCCEED = text(
    "UPDATE task_runs SET state='succeeded', output=:o, finished_at=:at, error=NULL, "
    "lease_owner=NULL, waiting_for=NULL, deadline=NULL "
    "WHERE execution_uid=:u AND task_id=:t AND state='running' AND attempt=:a")
CURRENT = text(
    "SELECT 1 FROM task_runs WHERE execution_uid=:u AND task_id=:t AND state='running' AND attempt=:a")
STATES = text(
    "SELECT task_id, state FROM task_runs WHERE execution_uid=:u AND task_id IN :ids"
).bindparams(bindparam("ids", expanding=True))
MAKE_READY = text(
    "UPDATE task_runs SET state='ready', not_before=:at "
    "WHERE execution_uid=:u AND task_id=:t AND state='pending'")
COUNTS = text("SELECT state, COUNT(*) AS n FROM task_runs WHERE execution_uid=:u GROUP BY state")
EXECUTION = text("SELECT * FROM executions WHERE uid=:u")
SET_STATUS = text("UPDATE executions SET status=:s WHERE uid=:u")
TASK_RESULTS = text(
    "SELECT task_id, state, output, error, attempt FROM task_runs WHERE execution_uid=:u")
FINISH = text(
    "UPDATE executions SET status=:s, output=:o, error=:e, finished_at=:at WHERE uid=:u")
READY = (
    "SELECT t.execution_uid, t.task_id, t.attempt, e.tenant, e.id, e.package, e.workflow, "
    "e.version, e.package_version_id, e.input, e.status "
    "FROM task_runs t JOIN executions e ON e.uid = t.execution_uid "
    "WHERE t.state = 'ready' AND t.not_before <= :at "
    "ORDER BY t.not_before LIMIT :n")
CLAIM = text(
    "UPDATE task_runs SET state='running', attempt=attempt+1, lease_owner=:h, started_at=:s, "
    "deadline=:d WHERE execution_uid=:u AND task_id=:t")
START_EXECUTIONS = text(
    "UPDATE executions SET status='running', started_at=COALESCE(started_at, :at) "
    "WHERE uid IN :uids AND status <> 'running'").bindparams(bindparam("uids", expanding=True))
OUTPUTS = text(
    "SELECT task_id, output FROM task_runs WHERE execution_uid=:u AND task_id IN :ids"
).bindparams(bindparam("ids", expanding=True))
JOURNALS = text(
    "SELECT execution_uid, task_id, seq, kind, name, result FROM journal "
    "WHERE execution_uid IN :uids ORDER BY seq").bindparams(bindparam("uids", expanding=True))

NEXT_DUE = text(
    "SELECT (SELECT MIN(due_at) FROM waits WHERE status = 'open'), "
    "(SELECT MIN(not_before) FROM task_runs WHERE state = 'ready' AND not_before > :at), "
    "(SELECT MIN(deadline) FROM task_runs WHERE state = 'running' AND lease_owner = :h), "
    "(SELECT MIN(deadline) FROM executions WHERE status IN ('pending', 'running', 'waiting') "
    "AND cancel_requested = FALSE)")
RETIRED = text(
    "SELECT p.id, p.tenant, p.name, p.version FROM package_versions p "
    "WHERE p.state = 'retired' AND NOT EXISTS (SELECT 1 FROM executions e WHERE "
    "e.package_version_id = p.id AND e.status IN ('pending', 'running', 'waiting'))")

# PostgreSQL only (several hosts): serialize outcome handling per execution.
LOCK_EXECUTIONS = text(
    "SELECT uid FROM executions WHERE uid IN :uids ORDER BY uid FOR UPDATE"
).bindparams(bindparam("uids", expanding=True))
