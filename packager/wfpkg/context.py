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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn, ParamSpec, TypeVar, overload

from .errors import ChildWorkflowError, InvalidPayload, WaitTimeout, WfpkgError
from .protocol import (
    CancelExecution,
    ChildStarted,
    ChildWait,
    Done,
    Now,
    NowResult,
    SignalExecution,
    SignalWait,
    StartChild,
    TimerWait,
    Wait,
    WaitCall,
    WaitDone,
)
from .runtime import ContinueAsNew, Runtime

__all__ = [
    "ChildHandle",
    "ChildResult",
    "Context",
    "SignalWait",
    "TimerWait",
    "Wait",
    "WaitResult",
]

P = ParamSpec("P")
T = TypeVar("T")


def _seconds(duration: timedelta | float | int) -> float:
    seconds = duration.total_seconds() if isinstance(duration, timedelta) else float(duration)
    if seconds < 0:
        raise WfpkgError(f"a duration cannot be negative: {duration!r}")
    return seconds


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
class ChildHandle(ChildWait):
    """A started child workflow; `result` waits for it durably."""

    _ctx: Context | None = field(default=None, compare=False, repr=False)

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
        key: the winner's key when the waits were given as a mapping, else its position.
    """

    index: int
    wait: Wait
    value: Any
    key: str | int = 0


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

    @property
    def is_cancelled(self) -> bool:
        """True once cancellation of this execution has been requested.

        A long task should check it between units of work; its next durable
        call raises `Cancelled` anyway.
        """
        return self._runtime.cancelled if self._runtime is not None else False

    def step(self, name: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` once and journal its JSON result.

        On a replay the recorded result is returned and ``fn`` is not called:
        put every side effect that precedes a wait in a step.
        """
        value: T = self._rt.step(name, lambda: fn(*args, **kwargs))
        return value

    def now(self) -> datetime:
        """The current time, journaled so that a replay sees the same value."""
        return datetime.fromisoformat(self._rt.call(Now(), NowResult).value)

    def signal(self, name: str) -> SignalWait:
        """A wait for the next signal ``name``, for `wait_any`."""
        return SignalWait(name)

    def timer(self, duration: timedelta | float) -> TimerWait:
        """A wait for a timer of ``duration`` (seconds or timedelta), for `wait_any`."""
        return TimerWait(_seconds(duration))

    def wait_any(self, *waits: Wait | Mapping[str, Wait],
                 timeout: timedelta | float | None = None) -> WaitResult:
        """Wait for the first of several waits; the others are cancelled and never fire.

        Give the waits in order (``result.index`` names the winner) or as one
        mapping (``result.key`` names it by the key you gave)::

            first = ctx.wait_any({"approved": ctx.signal("approval"), "expired": ctx.timer(3600)})
            if first.key == "expired": ...

        Raises:
            WaitTimeout: ``timeout`` passed before any of them finished.
        """
        keys: list[str | int]
        if len(waits) == 1 and isinstance(waits[0], Mapping):
            named = dict(waits[0])
            keys, chosen = list(named), list(named.values())
        else:
            chosen = [w for w in waits if isinstance(w, Wait)]
            if len(chosen) != len(waits):
                raise WfpkgError(f"task {self.task_id!r}: wait_any takes waits, or one mapping of them")
            keys = list(range(len(chosen)))
        if not chosen:
            raise WfpkgError(f"task {self.task_id!r}: wait_any needs at least one wait")
        done = self._wait(chosen, "any", timeout)
        index = int(done.index or 0)
        value = done.value
        if isinstance(chosen[index], ChildWait):
            value = ChildResult.from_value(value)
        return WaitResult(index, chosen[index], value, keys[index])

    def _wait(self, waits: list[Wait], mode: str, timeout: timedelta | float | None) -> WaitDone:
        call = WaitCall(tuple(_plain(w) for w in waits), "all" if mode == "all" else "any",
                        None if timeout is None else _seconds(timeout))
        done = self._rt.call(call, WaitDone)
        if done.timed_out:
            raise WaitTimeout(f"task {self.task_id!r}: timed out waiting for {call.name[len(mode) + 1:-1]}")
        return done

    @overload
    def wait_for_signal(self, name: str, timeout: timedelta | float | None = None) -> Any: ...

    @overload
    def wait_for_signal(self, name: str, timeout: timedelta | float | None = None, *,
                        type: type[T]) -> T: ...

    def wait_for_signal(self, name: str, timeout: timedelta | float | None = None, *,
                        type: type[Any] | None = None) -> Any:  # noqa: A002
        """Wait for the next signal ``name`` and return its payload.

        A signal sent before the wait is buffered and returned at once. Given
        ``type`` (a dataclass, a TypedDict, a pydantic model, ``int``, ...),
        the payload is validated and converted to it::

            @dataclass
            class Approval:
                approved: bool
                by: str

            decision = ctx.wait_for_signal("approval", type=Approval)

        Raises:
            WaitTimeout: ``timeout`` passed first.
            InvalidPayload: the payload does not fit ``type`` (names the field).
        """
        payload = self.wait_any(SignalWait(name), timeout=timeout).value
        if type is None:
            return payload
        return _convert(payload, type, f"task {self.task_id!r}: signal {name!r}")

    def sleep(self, duration: timedelta | float) -> None:
        """Sleep durably: the task holds no thread and the timer survives restarts."""
        self.wait_any(self.timer(duration))

    def signal_execution(self, execution_id: str, name: str, payload: Any = None) -> None:
        """Send signal ``name`` with a JSON payload to another execution of this tenant.

        Raises:
            ExecutionNotFound: no such execution.
            ExecutionFinished: it has already finished.
        """
        self._rt.call(SignalExecution(execution_id, name, payload), Done)

    def cancel_execution(self, execution_id: str, reason: str | None = None) -> None:
        """Request cancellation of another execution of this tenant.

        Raises:
            ExecutionNotFound: no such execution.
        """
        self._rt.call(CancelExecution(execution_id, reason), Done)

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
        call = StartChild(workflow, dict(input or {}), id,
                          None if timeout is None else _seconds(timeout), int(retry or 0))
        return ChildHandle(self._rt.call(call, ChildStarted).id, self)

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
        done = self._wait(list(handles), "all", timeout)
        return [ChildResult.from_value(v) for v in done.values or []]

    def continue_as_new(self, input: Mapping[str, Any]) -> NoReturn:  # noqa: A002
        """End this run and start the execution again with ``input`` and an empty journal.

        The execution keeps its id; unconsumed signals stay buffered for the new run.
        """
        raise ContinueAsNew(input)


def _plain(wait: Wait) -> Wait:
    """The wait as the protocol carries it (a child handle without its context)."""
    return ChildWait(wait.id) if isinstance(wait, ChildHandle) else wait


def _convert(payload: Any, target: type[T], where: str) -> T:
    from pydantic import TypeAdapter, ValidationError

    try:
        value: T = TypeAdapter(target).validate_python(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in exc.errors())
        raise InvalidPayload(f"{where}: payload does not fit {getattr(target, '__name__', target)}: "
                             f"{problems}") from None
    return value
