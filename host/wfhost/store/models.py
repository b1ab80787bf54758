"""The host's tables (SQLModel). Times in hot tables are float UNIX seconds (UTC).

Registry tables (tenants, trusted keys, package versions) live in
`wfregistry.models`; both sets share `SQLModel.metadata` and one migration
history (``wfhost/migrations``).

Durable calls are keyed by (execution, task, seq) in `JournalEntry`, the one
mechanism steps, signals, timers and children are built on.

These classes define the schema (Alembic's autogenerate reads them); the host
queries the same tables as Core through `wfhost.store.tables`, rendered from
them by `wfhost.store._tablegen`, so it never imports SQLModel or pydantic.
After changing a model, write a migration and run
``python -m wfhost.store._tablegen``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from wfpkg.protocol import ACTIVE_EXECUTION, TERMINAL_EXECUTION, TERMINAL_TASK

__all__ = [
    "ACTIVE_EXECUTION",
    "TERMINAL_EXECUTION",
    "TERMINAL_TASK",
    "EventRow",
    "ExecutionRow",
    "HostRow",
    "JournalEntry",
    "ScheduleRow",
    "ScheduleRunRow",
    "SignalRow",
    "TaskRunRow",
    "WaitRow",
]



class ExecutionRow(SQLModel, table=True):
    """One execution of a workflow: pinned version, input, state, output."""

    __tablename__: ClassVar[Any] = "executions"
    __table_args__ = (
        UniqueConstraint("tenant", "id", name="uq_execution_tenant_id"),
        Index("ix_executions_status", "status"),
        Index("ix_executions_parent", "parent_uid"),
        # The scheduler's next execution deadline: a seek per active status, not a scan.
        Index("ix_executions_due", "status", "cancel_requested", "deadline"),
    )

    uid: str = Field(primary_key=True, max_length=32)
    tenant: str = Field(max_length=64)
    id: str = Field(max_length=128)
    package: str = Field(max_length=64)
    workflow: str = Field(max_length=64)
    package_version_id: int | None = Field(default=None)
    version: str | None = Field(default=None, max_length=64)
    input: str = Field(sa_column=Column(Text, nullable=False))
    output: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default="pending", max_length=16)
    run_no: int = 1
    parent_uid: str | None = Field(default=None, max_length=32)
    parent_task: str | None = Field(default=None, max_length=64)
    retries_left: int = 0
    timeout: float | None = None
    deadline: float | None = None
    cancel_requested: bool = False
    cancelled_by: str | None = Field(default=None, max_length=256)
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None


class TaskRunRow(SQLModel, table=True):
    """The state of one task of one execution (all attempts)."""

    __tablename__: ClassVar[Any] = "task_runs"
    __table_args__ = (
        Index("ix_task_runs_state", "state", "not_before"),
        Index("ix_task_runs_exec_state", "execution_uid", "state"),
    )

    execution_uid: str = Field(primary_key=True, max_length=32)
    task_id: str = Field(primary_key=True, max_length=64)
    position: int = 0
    state: str = Field(default="pending", max_length=16)
    attempt: int = 0
    not_before: float = 0.0
    # Dependencies not yet finished, for tasks with two or more (NULL: rows made before
    # the counter existed, decided by reading the dependencies' states instead).
    deps_left: int | None = None
    lease_owner: str | None = Field(default=None, max_length=64)
    deadline: float | None = None
    output: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    detail: str | None = Field(default=None, sa_column=Column(Text))
    waiting_for: str | None = Field(default=None, sa_column=Column(Text))
    started_at: float | None = None
    finished_at: float | None = None


class JournalEntry(SQLModel, table=True):
    """The recorded result of durable call ``seq`` of one task of one execution."""

    __tablename__: ClassVar[Any] = "journal"

    execution_uid: str = Field(primary_key=True, max_length=32)
    task_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    kind: str = Field(max_length=32)
    name: str = Field(sa_column=Column(Text, nullable=False))
    result: str = Field(sa_column=Column(Text, nullable=False))
    at: float


class WaitRow(SQLModel, table=True):
    """What a task waits for at durable call ``seq``: signals, timers, children, any or all."""

    __tablename__: ClassVar[Any] = "waits"
    __table_args__ = (
        Index("ix_waits_open_due", "status", "due_at"),
        Index("ix_waits_exec", "execution_uid", "status"),
    )

    execution_uid: str = Field(primary_key=True, max_length=32)
    task_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    spec: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="open", max_length=16)
    created_at: float
    due_at: float | None = None


class SignalRow(SQLModel, table=True):
    """A signal sent to an execution; buffered until a wait consumes it (once)."""

    __tablename__: ClassVar[Any] = "signals"
    __table_args__ = (Index("ix_signals_pending", "execution_uid", "name", "consumed"),)

    id: int | None = Field(default=None, primary_key=True)
    execution_uid: str = Field(max_length=32)
    name: str = Field(max_length=128)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    sender: str | None = Field(default=None, max_length=256)
    sent_at: float
    consumed: bool = False
    consumed_by: str | None = Field(default=None, max_length=128)


class EventRow(SQLModel, table=True):
    """One line of an execution's history."""

    __tablename__: ClassVar[Any] = "events"
    __table_args__ = (Index("ix_events_exec", "execution_uid", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    execution_uid: str = Field(max_length=32)
    at: float
    kind: str = Field(max_length=32)
    task_id: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, sa_column=Column(Text))


class HostRow(SQLModel, table=True):
    """A running host: who holds leases, and where to send wake-ups."""

    __tablename__: ClassVar[Any] = "hosts"

    id: str = Field(primary_key=True, max_length=64)
    hostname: str = Field(max_length=255)
    pid: int
    started_at: float
    heartbeat_at: float
    wake_port: int | None = None
    stopped: bool = False


class ScheduleRow(SQLModel, table=True):
    """A cron schedule of a tenant: starts ``workflow`` at each tick (`wfhost.engine.schedules`)."""

    __tablename__: ClassVar[Any] = "schedules"
    __table_args__ = (
        UniqueConstraint("tenant", "name", name="uq_schedule_tenant_name"),
        Index("ix_schedules_due", "paused", "next_tick_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(max_length=64)
    name: str = Field(max_length=64)
    workflow: str = Field(max_length=200)
    cron: str = Field(max_length=200)
    timezone: str = Field(max_length=64)
    input: str = Field(sa_column=Column(Text, nullable=False))
    catchup: str = Field(max_length=8)
    overlap: str = Field(max_length=8)
    paused: bool = False
    next_tick_at: float
    created_at: float


class ScheduleRunRow(SQLModel, table=True):
    """What one tick of a schedule did: the execution it started, or why it started none."""

    __tablename__: ClassVar[Any] = "schedule_runs"
    __table_args__ = (
        UniqueConstraint("schedule_id", "tick_at", name="uq_schedule_run_tick"),
        Index("ix_schedule_runs_recent", "schedule_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int
    tick_at: float
    fired_at: float
    execution_id: str | None = Field(default=None, max_length=128)
    outcome: str = Field(max_length=16)
    detail: str | None = Field(default=None, sa_column=Column(Text))
