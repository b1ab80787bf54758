"""Running one task body under a runtime: the part shared by every executor.

The host runs tasks of plain-Python workflows in its own threads and tasks
of packages inside the package's worker process; both call `run_task`, so a
task behaves the same wherever it runs.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping

from .context import Context
from .errors import Cancelled, NonDeterminismError, WfpkgError
from .protocol import OutcomeStatus, TaskOutcome, TaskRequest
from .runtime import Backend, ContinueAsNew, Runtime, Suspended
from .workflow import TaskSpec

__all__ = ["TaskOutcome", "TaskRequest", "run_task"]


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
        return TaskOutcome(OutcomeStatus.SUCCEEDED, output)
    except Suspended as exc:
        return TaskOutcome(OutcomeStatus.SUSPENDED, waiting_for=exc.waiting_for)
    except Cancelled as exc:
        return TaskOutcome(OutcomeStatus.CANCELLED, error=_error_text(exc))
    except ContinueAsNew as exc:
        return TaskOutcome(OutcomeStatus.CONTINUE_AS_NEW, output=exc.input)
    except NonDeterminismError as exc:
        return TaskOutcome(OutcomeStatus.FAILED, error=_error_text(exc), retryable=False,
                           detail=traceback.format_exc())
    except Exception as exc:  # noqa: BLE001 - task code may raise anything; it is reported
        return TaskOutcome(
            OutcomeStatus.FAILED,
            error=_error_text(exc),
            retryable=spec.retry.retries(exc),
            detail=traceback.format_exc(),
        )
