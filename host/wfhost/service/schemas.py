"""The API's response shapes, so /openapi.json documents them and schemathesis checks them.

They mirror the JSON of `Client` results (`to_json`) and of registered
versions (`package_json`); extra fields are allowed so that the Client's
results can grow without breaking the API.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "BulkCancelResult", "CancelAccepted", "Event", "ExecutionPage", "ExecutionStatus", "ExecutionSummary",
    "KeyTrusted", "Overview", "Package", "QuotaLimits", "RetryAccepted", "Schedule", "ScheduleRun",
    "ScheduleTriggered", "SignalAccepted", "TenantCreated", "TenantList", "TenantPolicyOut", "TokenCreated", "WhoAmI",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TaskState(_Open):
    """One task of an execution."""

    task: str
    state: str
    attempts: int
    started_at: str | None
    finished_at: str | None
    duration: float | None
    error: str | None
    output: Any
    waiting_for: str | None


class Child(_Open):
    """A child execution."""

    id: str
    workflow: str
    status: str
    parent_task: str | None


class ExecutionStatus(_Open):
    """An execution: its tasks (with what waiting ones wait for), children, output or error."""

    id: str
    tenant: str
    workflow: str
    version: str | None
    status: str
    input: Any
    output: Any
    error: str | None
    run: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    cancel_requested: bool
    cancelled_by: str | None
    parent: str | None
    tasks: list[TaskState]
    children: list[Child]


class ExecutionSummary(_Open):
    """One line of the executions list."""

    tenant: str
    id: str
    workflow: str
    version: str | None
    status: str
    created_at: str
    finished_at: str | None
    error: str | None
    child: bool
    children: int


class ExecutionPage(BaseModel):
    """A page of executions, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[ExecutionSummary]
    next_cursor: str | None


class Event(_Open):
    """One line of an execution's history (more fields by kind)."""

    at: str
    kind: str
    task: str | None


class SignalAccepted(BaseModel):
    """A signal was recorded for the execution."""

    execution: str
    signal: str
    accepted: bool


class CancelAccepted(BaseModel):
    """Cancellation was requested."""

    execution: str
    cancel_requested: bool


class RetryAccepted(BaseModel):
    """The execution runs again; ``tasks`` start fresh attempts."""

    execution: str
    tasks: list[str]


class BulkItem(BaseModel):
    """What happened to one id: ``cancel_requested``, ``finished`` or ``not_found``."""

    id: str
    result: str


class BulkCancelResult(BaseModel):
    """A result per id."""

    results: list[BulkItem]


class Package(_Open):
    """A registered version of a package."""

    id: int
    tenant: str
    package: str
    version: str
    state: str
    active: bool
    key_id: str
    sha256: str
    registered_at: str
    workflows: list[str]
    dags: list[dict[str, Any]]


class TenantCreated(BaseModel):
    """A new tenant."""

    name: str


class TenantList(BaseModel):
    """Every tenant."""

    items: list[str]


class KeyTrusted(BaseModel):
    """A key the tenant now trusts."""

    tenant: str
    key_id: str


class TokenCreated(BaseModel):
    """A new token: ``token`` is shown here only."""

    id: str
    tenant: str
    token: str


class QuotaLimits(BaseModel):
    """A tenant's quotas in force."""

    concurrent_tasks: int
    starts_per_minute: int
    waiting_executions: int
    package_bytes: int
    signal_bytes: int
    uploads_per_hour: int


class WhoAmI(BaseModel):
    """The token's principal."""

    token_id: str
    tenant: str | None
    admin: bool


class ScheduleRun(_Open):
    """What one tick of a schedule did."""

    tick_at: str
    fired_at: str
    outcome: str
    execution_id: str | None
    detail: str | None


class Schedule(_Open):
    """A cron schedule, its next tick and its last 20 runs (newest first)."""

    tenant: str
    name: str
    workflow: str
    cron: str
    timezone: str
    input: dict[str, Any]
    catchup: str
    overlap: str
    paused: bool
    next_tick_at: str | None
    runs: list[ScheduleRun]


class ScheduleTriggered(BaseModel):
    """The execution a manual trigger started."""

    id: str


class Overview(BaseModel):
    """A tenant at a glance: ``running`` counts pending too; ``throughput`` has one bucket a minute."""

    at: str
    running: int
    waiting: int
    last_hour: dict[str, int]
    throughput: list[dict[str, Any]]
    slowest: list[dict[str, Any]]
    quota: dict[str, dict[str, int]]


class TenantPolicyOut(BaseModel):
    """The walls a tenant's workers get (a ``null`` limit is unlimited)."""

    tenant: str
    allow_connect: list[int]
    env: dict[str, str]
    memory: int | None
    cpu_seconds: int | None
    max_procs: int | None
    open_files: int | None
    file_size: int | None
