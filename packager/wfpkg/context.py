"""`Context`: what a task reads and writes, and its durable-wait API.

A task reads the execution input merged with its upstream tasks' outputs
(upstream in declared dependency order, later wins) and writes its own output::

    @wf.task(depends_on=[collect_data])
    def process_data(ctx: Context) -> None:
        ctx["processed"] = [x * 2 for x in ctx["raw_data"]]

Durable calls (`step`, `wait_for_signal`, `sleep`, `wait_any`,
`signal_execution`, `cancel_execution`, `start_child`, `gather`) are
journaled: a task that waits is run again from the top when its wait is
satisfied, and each durable call it already made returns its recorded result.
Put side effects before a wait inside `step` so they happen once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from .errors import ChildWorkflowError, WaitTimeout, WfpkgError
from .runtime import ContinueAsNew, Runtime, error_from_envelope

__all__ = [
    "ChildHandle",
    "ChildResult",
    "Context",
    "SignalWait",
    "TimerWait",
    "Wait",
    "WaitResult",
]


def _seconds(duration: timedelta | float | int) -> float:
    seconds = duration.total_seconds() if isinstance(duration, timedelta) else float(duration)
    if seconds < 0:
        raise WfpkgError(f"a duration cannot be negative: {duration!r}")
    return seconds


class Wait:
    """Something a task can wait for durably: a signal, a timer or a child workflow."""

    def spec(self) -> dict[str, Any]:
        """The wait as the backend records it."""
        raise NotImplementedError


@dataclass(frozen=True)
class SignalWait(Wait):
    """The next signal called ``name`` sent to this execution; its value is the payload."""

    name: str

    def spec(self) -> dict[str, Any]:
        return {"type": "signal", "name": self.name}


@dataclass(frozen=True)
class TimerWait(Wait):
    """A timer that fires ``seconds`` after the wait is first made; its value is ``None``."""

    seconds: float

    def spec(self) -> dict[str, Any]:
        return {"type": "timer", "seconds": self.seconds}


@dataclass(frozen=True)
class ChildResult:
    """How a child workflow ended.

    Attributes:
        id: the child's execution id.
        status: ``succeeded``, ``failed`` or ``cancelled``.
        output: its output when it succeeded.
        error: its error otherwise.
    """

    id: str
    status: str
    output: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the child succeeded."""
        return self.status == "succeeded"

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> ChildResult:
        """Build from the backend's recorded value."""
        return cls(str(value["id"]), str(value["status"]), value.get("output"), value.get("error"))


@dataclass(frozen=True)
class ChildHandle(Wait):
    """A started child workflow; `result` waits for it durably."""

    id: str
    _ctx: Context | None = None

    def spec(self) -> dict[str, Any]:
        return {"type": "child", "id": self.id}

    def result(self, timeout: timedelta | float | None = None) -> dict[str, Any]:
        """Wait for the child and return its output.

        Raises:
            ChildWorkflowError: the child failed or was cancelled.
            WaitTimeout: ``timeout`` passed first (the child keeps running).
        """
        if self._ctx is None:
            raise WfpkgError("this child handle is not bound to a task context")
        done = self._ctx.wait_any(self, timeout=timeout).value
        if not done.ok:
            raise ChildWorkflowError(done.id, done.status, done.error)
        return done.output or {}


@dataclass(frozen=True)
class WaitResult:
    """Which wait of a `Context.wait_any` finished first, and its value.

    Attributes:
        index: position of the winner among the waits given.
        wait: the winning wait.
        value: a signal's payload, ``None`` for a timer, a `ChildResult` for a child.
    """

    index: int
    wait: Wait
    value: Any


class Context(Mapping[str, Any]):
    """The view one task run has of its execution.

    Reading ``ctx[key]`` looks at what the task wrote first, then at the
    merged input. Writing ``ctx[key] = value`` sets the task's output (values
    must be JSON).

    Attributes:
        execution_id: the execution's id.
        tenant: the tenant it runs for.
        workflow: the workflow's name.
        task_id: this task's id.
        attempt: 1 for the first attempt, 2 for the first retry, ...
    """

    def __init__(
        self,
        input: Mapping[str, Any] | None = None,  # noqa: A002
        *,
        runtime: Runtime | None = None,
        execution_id: str = "local",
        tenant: str = "default",
        workflow: str = "",
        task_id: str = "",
        attempt: int = 1,
    ) -> None:
        self._input = dict(input or {})
        self._output: dict[str, Any] = {}
        self._runtime = runtime
        self.execution_id = execution_id
        self.tenant = tenant
        self.workflow = workflow
        self.task_id = task_id
        self.attempt = attempt

    # -- data -----------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        if key in self._output:
            return self._output[key]
        return self._input[key]

    def __setitem__(self, key: str, value: Any) -> None:
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise WfpkgError(
                f"task {self.task_id!r}: context value {key!r} is not JSON: {exc}"
            ) from None
        self._output[key] = value

    def __iter__(self) -> Iterator[str]:
        yield from self._output
        yield from (k for k in self._input if k not in self._output)

    def __len__(self) -> int:
        return len(set(self._input) | set(self._output))

    @property
    def input(self) -> Mapping[str, Any]:
        """The merged input this task started with (read-only copy)."""
        return dict(self._input)

    @property
    def output(self) -> dict[str, Any]:
        """What this task has written so far."""
        return dict(self._output)

    def update(self, values: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Write several output values at once."""
        for key, value in {**(values or {}), **more}.items():
            self[key] = value

    # -- durable calls ----------------------------------------------------------

    @property
    def _rt(self) -> Runtime:
        if self._runtime is None:
            raise WfpkgError(
                f"task {self.task_id!r}: durable calls need a host; this context has no runtime"
            )
        return self._runtime

    def _checked(self, result: Any) -> Any:
        if isinstance(result, Mapping) and "error" in result:
            raise error_from_envelope(result)
        return result

    @property
    def is_cancelled(self) -> bool:
        """True once cancellation of this execution has been requested.

        A long task should check it between units of work; its next durable
        call raises `Cancelled` anyway.
        """
        return self._runtime.cancelled if self._runtime is not None else False

    def step(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` once and journal its JSON result.

        On a replay the recorded result is returned and ``fn`` is not called:
        put every side effect that precedes a wait in a step.
        """
        result = self._rt.call("step", name, compute=lambda: fn(*args, **kwargs))
        return result["value"]

    def now(self) -> datetime:
        """The current time, journaled so that a replay sees the same value."""
        result = self._rt.call("now", "now")
        return datetime.fromisoformat(result["value"])

    def signal(self, name: str) -> SignalWait:
        """A wait for the next signal ``name``, for `wait_any`."""
        return SignalWait(name)

    def timer(self, duration: timedelta | float) -> TimerWait:
        """A wait for a timer of ``duration`` (seconds or timedelta), for `wait_any`."""
        return TimerWait(_seconds(duration))

    def wait_any(self, *waits: Wait, timeout: timedelta | float | None = None) -> WaitResult:
        """Wait for the first of several waits; the others are cancelled and never fire.

        Raises:
            WaitTimeout: ``timeout`` passed before any of them finished.
        """
        if not waits:
            raise WfpkgError(f"task {self.task_id!r}: wait_any needs at least one wait")
        result = self._wait(list(waits), "any", timeout)
        index = int(result["index"])
        value = result.get("value")
        if isinstance(waits[index], ChildHandle):
            value = ChildResult.from_value(value)
        return WaitResult(index, waits[index], value)

    def _wait(self, waits: list[Wait], mode: str, timeout: timedelta | float | None) -> Any:
        specs = [w.spec() for w in waits]
        name = "|".join(f"{s['type']}:{s.get('name', s.get('id', s.get('seconds')))}" for s in specs)
        request = {"waits": specs, "mode": mode, "timeout": None if timeout is None else _seconds(timeout)}
        result = self._checked(self._rt.call("wait", f"{mode}({name})", request))
        if result.get("timeout"):
            raise WaitTimeout(f"task {self.task_id!r}: timed out waiting for {name}")
        return result

    def wait_for_signal(self, name: str, timeout: timedelta | float | None = None) -> Any:
        """Wait for the next signal ``name`` and return its payload.

        A signal sent before the wait is buffered and returned at once.

        Raises:
            WaitTimeout: ``timeout`` passed first.
        """
        return self.wait_any(SignalWait(name), timeout=timeout).value

    def sleep(self, duration: timedelta | float) -> None:
        """Sleep durably: the task holds no thread and the timer survives restarts."""
        self.wait_any(self.timer(duration))

    def signal_execution(self, execution_id: str, name: str, payload: Any = None) -> None:
        """Send signal ``name`` with a JSON payload to another execution of this tenant.

        Raises:
            ExecutionNotFound: no such execution.
            ExecutionFinished: it has already finished.
        """
        self._checked(
            self._rt.call(
                "signal_execution",
                f"{execution_id}:{name}",
                {"id": execution_id, "name": name, "payload": payload},
            )
        )

    def cancel_execution(self, execution_id: str, reason: str | None = None) -> None:
        """Request cancellation of another execution of this tenant.

        Raises:
            ExecutionNotFound: no such execution.
        """
        self._checked(
            self._rt.call("cancel_execution", execution_id, {"id": execution_id, "reason": reason})
        )

    def start_child(
        self,
        workflow: str,
        input: Mapping[str, Any] | None = None,  # noqa: A002
        *,
        id: str | None = None,  # noqa: A002
        timeout: timedelta | float | None = None,
        retry: int | None = None,
    ) -> ChildHandle:
        """Start a child workflow and return its handle at once.

        Args:
            workflow: ``package::workflow`` (same tenant), or a workflow of
                this package by bare name.
            input: the child's input.
            id: the child's execution id; default ``<parent id>.<task>.<n>``.
            timeout: seconds the child may run before it is cancelled as failed.
            retry: how many times a failed child is started again (default 0).
        """
        request = {
            "workflow": workflow,
            "input": dict(input or {}),
            "id": id,
            "timeout": None if timeout is None else _seconds(timeout),
            "retry": int(retry or 0),
        }
        result = self._checked(self._rt.call("start_child", id or workflow, request))
        return ChildHandle(str(result["id"]), self)

    def gather(
        self, handles: Sequence[ChildHandle], timeout: timedelta | float | None = None
    ) -> list[ChildResult]:
        """Wait for all ``handles`` (fan-in) and return each child's `ChildResult`.

        A failed child does not raise here: check ``result.ok``.

        Raises:
            WaitTimeout: ``timeout`` passed before all finished.
        """
        if not handles:
            return []
        result = self._wait(list(handles), "all", timeout)
        return [ChildResult.from_value(v) for v in result["values"]]

    def continue_as_new(self, input: Mapping[str, Any]) -> NoReturn:  # noqa: A002
        """End this run and start the execution again with ``input`` and an empty journal.

        The execution keeps its id; unconsumed signals stay buffered for the new run.
        """
        raise ContinueAsNew(input)
