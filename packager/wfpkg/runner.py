"""Running one task body under a runtime: the part shared by every executor.

The host runs tasks of plain-Python workflows in its own threads and tasks
of packages inside the package's worker process; both call `run_task`, so a
task behaves the same wherever it runs.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .context import Context
from .errors import Cancelled, NonDeterminismError, WfpkgError
from .runtime import Backend, ContinueAsNew, Runtime, Suspended
from .workflow import TaskSpec

__all__ = ["TaskOutcome", "TaskRequest", "run_task"]


@dataclass(frozen=True)
class TaskRequest:
    """Everything one attempt of one task needs (all JSON-able but for the spec).

    Attributes:
        run_id: the host's id for this attempt (used to route durable calls).
        tenant, execution_id, workflow, task_id, attempt: who and where.
        input: the merged input the task sees.
        journal: its journal entries so far, for replay.
    """

    run_id: str
    tenant: str
    execution_id: str
    workflow: str
    task_id: str
    attempt: int
    input: dict[str, Any]
    journal: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, for the worker pipe."""
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskRequest:
        """Inverse of `to_dict`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class TaskOutcome:
    """How one attempt ended.

    Attributes:
        status: ``succeeded``, ``failed``, ``suspended``, ``cancelled`` or ``continue_as_new``.
        output: the task's output (succeeded) or the new input (continue_as_new).
        error: ``Type: message`` when it failed.
        retryable: whether the task's retry policy allows another attempt for this error.
        detail: the traceback of a failure, or what a suspended task waits for.
    """

    status: str
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    retryable: bool = False
    detail: Any = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form, for the worker pipe."""
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskOutcome:
        """Inverse of `to_dict`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def _error_text(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def run_task(spec: TaskSpec, request: TaskRequest, backend: Backend) -> TaskOutcome:
    """Run one attempt of ``spec`` and classify how it ended. Never raises.

    The task's return value, if a mapping, is merged into what it wrote to
    its context; the result must be JSON.
    """
    runtime = Runtime(backend, request.journal, f"execution {request.execution_id!r} task {request.task_id!r}")
    ctx = Context(
        request.input,
        runtime=runtime,
        execution_id=request.execution_id,
        tenant=request.tenant,
        workflow=request.workflow,
        task_id=request.task_id,
        attempt=request.attempt,
    )
    try:
        returned = spec.fn(ctx)
        if returned is not None:
            if not isinstance(returned, Mapping):
                raise WfpkgError(
                    f"task {request.task_id!r} returned {type(returned).__name__}; "
                    "return a dict or write to the context"
                )
            ctx.update(returned)
        output = ctx.output
        json.dumps(output)
        return TaskOutcome("succeeded", output)
    except Suspended as exc:
        return TaskOutcome("suspended", detail=exc.waiting_for)
    except Cancelled as exc:
        return TaskOutcome("cancelled", error=_error_text(exc) if str(exc) else "Cancelled")
    except ContinueAsNew as exc:
        return TaskOutcome("continue_as_new", output=exc.input)
    except NonDeterminismError as exc:
        return TaskOutcome("failed", error=_error_text(exc), retryable=False,
                           detail=traceback.format_exc())
    except Exception as exc:  # noqa: BLE001 - task code may raise anything; it is reported
        return TaskOutcome(
            "failed",
            error=_error_text(exc),
            retryable=spec.retry.retries(exc),
            detail=traceback.format_exc(),
        )
