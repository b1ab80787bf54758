"""What `Client` returns: typed, read-only results with one JSON form.

Each result is a frozen dataclass: read its attributes (``status.tasks[0].state``).
``to_dict()`` gives the JSON form every output shares (CLI ``--json``, the
HTTP API): the keys `Client` has always returned, times as RFC 3339 UTC strings
(`wfhost._time.rfc3339`), booleans as booleans. Stored times stay UNIX seconds
in the attributes. For code written against the earlier dict results, a
result also reads like a mapping of its attributes (``status["status"]``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from wfpkg.protocol import TERMINAL_EXECUTION, ExecutionStatus, TaskState

from ._time import rfc3339

__all__ = ["Child", "Event", "Execution", "ExecutionSummary", "TaskRun"]


def _json(value: Any, name: str) -> Any:
    if isinstance(value, _Result):
        return value.to_dict()
    if isinstance(value, list):
        return [_json(v, name) for v in value]
    if isinstance(value, float) and (name == "at" or name.endswith("_at")):
        return rfc3339(value)
    if isinstance(value, (ExecutionStatus, TaskState)):
        return value.value
    return value


class _Result(Mapping[str, Any]):
    """Mapping view and JSON form shared by the results (fields in declaration order)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (see the module docstring)."""
        return {f.name: _json(getattr(self, f.name), f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> Any:
        if key in self._names():
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self))  # type: ignore[arg-type]


@dataclass(frozen=True, eq=True)
class TaskRun(_Result):
    """One task of an execution, as `Client.status` shows it."""

    task: str
    state: TaskState
    attempts: int
    started_at: float | None
    finished_at: float | None
    duration: float | None
    error: str | None
    output: Any
    waiting_for: str | None


@dataclass(frozen=True, eq=True)
class Child(_Result):
    """A child execution started by one of an execution's tasks."""

    id: str
    workflow: str
    status: ExecutionStatus
    parent_task: str | None


@dataclass(frozen=True, eq=True)
class Execution(_Result):
    """One execution: where it is, its tasks and children (`Client.status`, `Client.wait`)."""

    id: str
    tenant: str
    workflow: str
    version: str | None
    status: ExecutionStatus
    input: Any
    output: Any
    error: str | None
    run: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    cancel_requested: bool
    cancelled_by: str | None
    parent: str | None
    tasks: list[TaskRun]
    children: list[Child]

    @property
    def finished(self) -> bool:
        """True once the execution reached a final status."""
        return self.status in TERMINAL_EXECUTION


@dataclass(frozen=True, eq=True)
class ExecutionSummary(_Result):
    """One line of `Client.executions`."""

    tenant: str
    id: str
    workflow: str
    version: str | None
    status: ExecutionStatus
    created_at: float
    finished_at: float | None
    error: str | None
    child: bool


@dataclass(frozen=True, eq=True)
class Event(_Result):
    """One line of an execution's history (`Client.history`); ``detail`` depends on ``kind``.

    Its JSON form and mapping view put the detail's keys beside ``at``, ``kind`` and ``task``.
    """

    at: float
    kind: str
    task: str | None
    detail: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.detail, "at": rfc3339(self.at), "kind": self.kind, "task": self.task}

    def __getitem__(self, key: str) -> Any:
        if key in ("at", "kind", "task"):
            return getattr(self, key)
        return self.detail[key]

    def _names(self) -> tuple[str, ...]:
        return ("at", "kind", "task", *(k for k in self.detail if k not in ("at", "kind", "task")))
