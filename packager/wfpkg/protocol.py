"""The one language the SDK, the worker and the host speak: typed messages, defined once.

Three packages meet at this seam. Task code (`wfpkg.Context`) makes durable
calls; a worker process (`wfregistry`) carries them over its socket; the host
(`wfhost.engine.durable`) performs them and journals their results. Every
one of those hops carries the classes below, never a ``kind`` string with a
loose mapping:

- an attempt: `TaskRequest` (what one attempt of one task needs) and
  `TaskOutcome` (how it ended);
- a durable call (`Step`, `Now`, `WaitCall`, `SignalExecution`,
  `CancelExecution`, `StartChild`) and its result (`StepResult`,
  `NowResult`, `WaitDone`, `Done`, `ChildStarted`), or `Failed` carrying an
  `ErrorInfo`;
- an error: `ErrorInfo`, a stable ``code`` plus a one-line message, rebuilt
  into the exception class registered for that code (`wfpkg.errors`).

Journal rows hold the same results: `encode_result` and `decode_result` are
used at the store's boundary, and the wire frames (`wfregistry._protocol`)
carry `encode_call` / `encode_result` JSON. Continue-as-new is not a call
(nothing is journaled): it ends the attempt with `OutcomeStatus.CONTINUE_AS_NEW`.

Example::

    call = decode_call(encode_call(Step("charge", {"ok": True})))
    match call:
        case Step(name=name, value=value): ...
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias

from .errors import ErrorInfo, ProtocolError

__all__ = [
    "ACTIVE_EXECUTION",
    "TERMINAL_EXECUTION",
    "TERMINAL_TASK",
    "CancelExecution",
    "ChildStarted",
    "ChildWait",
    "Done",
    "DurableCall",
    "ErrorInfo",
    "ExecutionStatus",
    "Failed",
    "Now",
    "NowResult",
    "OutcomeStatus",
    "Result",
    "SignalExecution",
    "SignalWait",
    "StartChild",
    "Step",
    "StepResult",
    "TaskOutcome",
    "TaskRequest",
    "TaskState",
    "TimerWait",
    "Wait",
    "WaitCall",
    "WaitDone",
    "WaitStatus",
    "decode_call",
    "decode_result",
    "encode_call",
    "encode_result",
]


# -- states -----------------------------------------------------------------------------


class _State(str, enum.Enum):
    """A state stored as its value; compares and hashes as that string."""

    __hash__ = str.__hash__

    def __str__(self) -> str:
        return str(self.value)


class ExecutionStatus(_State):
    """An execution's status: pending → running ⇄ waiting → succeeded | failed | cancelled."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskState(_State):
    """A task's state: pending → ready → running → (waiting → ready → running)* → an end state."""

    PENDING = "pending"
    READY = "ready"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class WaitStatus(_State):
    """A durable wait's status: open → done | cancelled."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


ACTIVE_EXECUTION: frozenset[str] = frozenset(
    s.value for s in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING))
"""Statuses of an execution that has not finished (plain strings, ready for SQL ``IN``)."""
TERMINAL_EXECUTION: frozenset[str] = frozenset(s.value for s in ExecutionStatus) - ACTIVE_EXECUTION
"""Statuses of a finished execution."""
TERMINAL_TASK: frozenset[str] = frozenset(
    s.value for s in (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.SKIPPED, TaskState.CANCELLED))
"""States of a task that will not run again (unless its execution restarts)."""


# -- errors --------------------------------------------------------------------------


# -- what a task can wait for ----------------------------------------------------------


class Wait:
    """Something a task can wait for durably: a signal, a timer or a child workflow."""

    type: ClassVar[str]

    def label(self) -> str:
        """``type:what``, as it appears in the wait's journal name."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """JSON form (tagged with ``type``)."""
        raise NotImplementedError


@dataclass(frozen=True)
class SignalWait(Wait):
    """The next signal called ``name`` sent to this execution; its value is the payload."""

    type: ClassVar[str] = "signal"
    name: str

    def label(self) -> str:
        return f"signal:{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"type": "signal", "name": self.name}


@dataclass(frozen=True)
class TimerWait(Wait):
    """A timer that fires ``seconds`` after the wait is first made; its value is ``None``."""

    type: ClassVar[str] = "timer"
    seconds: float

    def label(self) -> str:
        return f"timer:{self.seconds}"

    def to_json(self) -> dict[str, Any]:
        return {"type": "timer", "seconds": self.seconds}


@dataclass(frozen=True)
class ChildWait(Wait):
    """A child workflow finishing; its value is how it ended (``id``, ``status``, ``output``, ``error``)."""

    type: ClassVar[str] = "child"
    id: str

    def label(self) -> str:
        return f"child:{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {"type": "child", "id": self.id}


def wait_from_json(data: Mapping[str, Any]) -> Wait:
    """Inverse of `Wait.to_json`."""
    kind = data.get("type")
    if kind == "signal":
        return SignalWait(str(data["name"]))
    if kind == "timer":
        return TimerWait(float(data["seconds"]))
    if kind == "child":
        return ChildWait(str(data["id"]))
    raise ProtocolError(f"unknown wait type {kind!r}")


# -- durable calls ---------------------------------------------------------------------


class DurableCall:
    """One durable call a task makes; journaled under (execution, task, seq) with its `kind` and `name`."""

    kind: ClassVar[str]

    @property
    def name(self) -> str:
        """What the call is about; replay checks it matches the journal."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """The call's fields as JSON (without ``kind``)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Step(DurableCall):
    """``ctx.step``: record a value computed once (the computing happened in the task)."""

    kind: ClassVar[str] = "step"
    step: str
    value: Any = None

    @property
    def name(self) -> str:
        return self.step

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "value": self.value}


@dataclass(frozen=True)
class Now(DurableCall):
    """``ctx.now``: the current time, recorded."""

    kind: ClassVar[str] = "now"

    @property
    def name(self) -> str:
        return "now"

    def to_json(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class WaitCall(DurableCall):
    """Wait for any one (``mode="any"``) or all of ``waits``, optionally with a timeout in seconds."""

    kind: ClassVar[str] = "wait"
    waits: tuple[Wait, ...]
    mode: Literal["any", "all"] = "any"
    timeout: float | None = None

    @property
    def name(self) -> str:
        return f"{self.mode}({'|'.join(w.label() for w in self.waits)})"

    def to_json(self) -> dict[str, Any]:
        return {"waits": [w.to_json() for w in self.waits], "mode": self.mode, "timeout": self.timeout}


@dataclass(frozen=True)
class SignalExecution(DurableCall):
    """Send signal ``signal`` with a JSON payload to another execution of the same tenant."""

    kind: ClassVar[str] = "signal_execution"
    execution_id: str
    signal: str
    payload: Any = None

    @property
    def name(self) -> str:
        return f"{self.execution_id}:{self.signal}"

    def to_json(self) -> dict[str, Any]:
        return {"execution_id": self.execution_id, "signal": self.signal, "payload": self.payload}


@dataclass(frozen=True)
class CancelExecution(DurableCall):
    """Request cancellation of another execution of the same tenant."""

    kind: ClassVar[str] = "cancel_execution"
    execution_id: str
    reason: str | None = None

    @property
    def name(self) -> str:
        return self.execution_id

    def to_json(self) -> dict[str, Any]:
        return {"execution_id": self.execution_id, "reason": self.reason}


@dataclass(frozen=True)
class StartChild(DurableCall):
    """Start a child workflow (``package::workflow`` or a bare name in the same package)."""

    kind: ClassVar[str] = "start_child"
    workflow: str
    input: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    timeout: float | None = None
    retry: int = 0

    @property
    def name(self) -> str:
        return self.id or self.workflow

    def to_json(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "input": dict(self.input), "id": self.id,
                "timeout": self.timeout, "retry": self.retry}


_CALLS: dict[str, type[DurableCall]] = {
    c.kind: c for c in (Step, Now, WaitCall, SignalExecution, CancelExecution, StartChild)
}


def encode_call(call: DurableCall) -> dict[str, Any]:
    """JSON form of a call, tagged with its ``kind``."""
    return {"kind": call.kind, **call.to_json()}


def decode_call(data: Mapping[str, Any]) -> DurableCall:
    """Inverse of `encode_call`.

    Raises:
        ProtocolError: an unknown kind or missing field.
    """
    kind = data.get("kind")
    try:
        if kind == "step":
            return Step(str(data["step"]), data.get("value"))
        if kind == "now":
            return Now()
        if kind == "wait":
            mode = data.get("mode", "any")
            if mode not in ("any", "all"):
                raise ProtocolError(f"unknown wait mode {mode!r}")
            timeout = data.get("timeout")
            return WaitCall(tuple(wait_from_json(w) for w in data["waits"]), mode,
                            None if timeout is None else float(timeout))
        if kind == "signal_execution":
            return SignalExecution(str(data["execution_id"]), str(data["signal"]), data.get("payload"))
        if kind == "cancel_execution":
            reason = data.get("reason")
            return CancelExecution(str(data["execution_id"]), None if reason is None else str(reason))
        if kind == "start_child":
            timeout = data.get("timeout")
            child_id = data.get("id")
            return StartChild(str(data["workflow"]), dict(data.get("input") or {}),
                              None if child_id is None else str(child_id),
                              None if timeout is None else float(timeout), int(data.get("retry") or 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"durable call {kind!r} is malformed: {exc!r}") from None
    raise ProtocolError(f"unknown durable call kind {kind!r} (known: {', '.join(sorted(_CALLS))})")


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StepResult:
    """The recorded value of a `Step`."""

    value: Any = None


@dataclass(frozen=True)
class NowResult:
    """The recorded time of a `Now`, ISO 8601 with its UTC offset."""

    value: str


@dataclass(frozen=True)
class WaitDone:
    """How a `WaitCall` ended.

    Attributes:
        index: for ``any``: the position of the wait that finished first.
        value: its value (a signal's payload, ``None`` for a timer, a child's end).
        values: for ``all``: every wait's value, in order.
        timed_out: the wait's timeout fired first.
    """

    index: int | None = None
    value: Any = None
    values: list[Any] | None = None
    timed_out: bool = False


@dataclass(frozen=True)
class Done:
    """A call with nothing to return succeeded (`SignalExecution`, `CancelExecution`)."""


@dataclass(frozen=True)
class ChildStarted:
    """A `StartChild` created (or found) the child execution ``id``."""

    id: str


@dataclass(frozen=True)
class Failed:
    """The call was refused; the task sees ``error`` raised (on every replay, too)."""

    error: ErrorInfo


Result: TypeAlias = "StepResult | NowResult | WaitDone | Done | ChildStarted | Failed"


def encode_result(result: Result) -> dict[str, Any]:
    """JSON form of a result, as journaled and as sent to a worker."""
    if isinstance(result, (StepResult, NowResult)):
        return {"value": result.value}
    if isinstance(result, WaitDone):
        if result.timed_out:
            return {"timeout": True}
        if result.values is not None:
            return {"values": result.values}
        return {"index": result.index, "value": result.value}
    if isinstance(result, ChildStarted):
        return {"id": result.id}
    if isinstance(result, Failed):
        return {"error": result.error.to_json()}
    return {}


def decode_result(kind: str, data: Mapping[str, Any]) -> Result:
    """Inverse of `encode_result`, for a call of ``kind``.

    Raises:
        ProtocolError: the data does not fit the kind.
    """
    if "error" in data:
        error = data["error"]
        if not isinstance(error, Mapping):
            raise ProtocolError(f"recorded error of a {kind} call is not an object")
        return Failed(ErrorInfo.from_json(error))
    if kind == "step":
        return StepResult(data.get("value"))
    if kind == "now":
        return NowResult(str(data["value"]))
    if kind == "wait":
        if data.get("timeout"):
            return WaitDone(timed_out=True)
        if "values" in data:
            return WaitDone(values=list(data["values"]))
        return WaitDone(int(data["index"]), data.get("value"))
    if kind in ("signal_execution", "cancel_execution"):
        return Done()
    if kind == "start_child":
        return ChildStarted(str(data["id"]))
    raise ProtocolError(f"unknown durable call kind {kind!r}")


# -- attempts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalEntry:
    """A durable call already made by an earlier run of the task, with its result."""

    seq: int
    kind: str
    name: str
    result: Result

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"seq": self.seq, "kind": self.kind, "name": self.name, "result": encode_result(self.result)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JournalEntry:
        """Inverse of `to_json`."""
        kind = str(data["kind"])
        return cls(int(data["seq"]), kind, str(data["name"]), decode_result(kind, data["result"]))


@dataclass(frozen=True)
class TaskRequest:
    """Everything one attempt of one task needs; what the host sends a worker.

    Attributes:
        run_id: the host's id for this attempt (used to route durable calls).
        tenant, execution_id, workflow, task_id, attempt: who and where.
        input: the merged input the task sees.
        journal: its journal so far, for replay.
    """

    run_id: str
    tenant: str
    execution_id: str
    workflow: str
    task_id: str
    attempt: int
    input: dict[str, Any]
    journal: list[JournalEntry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, for the worker socket."""
        return {"run_id": self.run_id, "tenant": self.tenant, "execution_id": self.execution_id,
                "workflow": self.workflow, "task_id": self.task_id, "attempt": self.attempt,
                "input": self.input, "journal": [e.to_json() for e in self.journal]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskRequest:
        """Inverse of `to_dict`."""
        return cls(str(data["run_id"]), str(data["tenant"]), str(data["execution_id"]),
                   str(data["workflow"]), str(data["task_id"]), int(data["attempt"]),
                   dict(data["input"]), [JournalEntry.from_json(e) for e in data.get("journal") or ()])


class OutcomeStatus(str, enum.Enum):
    """How an attempt ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    CONTINUE_AS_NEW = "continue_as_new"


@dataclass(frozen=True)
class TaskOutcome:
    """How one attempt ended.

    Attributes:
        status: see `OutcomeStatus`.
        output: the task's output (succeeded) or the new input (continue_as_new).
        error: ``Type: message`` when it failed or was cancelled.
        retryable: whether the task's retry policy allows another attempt for this error.
        detail: the traceback of a failure.
        waiting_for: what a suspended task waits for, in words.
    """

    status: OutcomeStatus
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    retryable: bool = False
    detail: str | None = None
    waiting_for: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, OutcomeStatus):  # a plain string is accepted and checked
            object.__setattr__(self, "status", OutcomeStatus(self.status))

    def to_dict(self) -> dict[str, Any]:
        """JSON form, for the worker socket."""
        return {"status": self.status.value, "output": self.output, "error": self.error,
                "retryable": self.retryable, "detail": self.detail, "waiting_for": self.waiting_for}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskOutcome:
        """Inverse of `to_dict`.

        Raises:
            ProtocolError: an unknown status or a field of the wrong type.
        """
        output = data.get("output") or {}
        if not isinstance(output, dict):
            raise ProtocolError("outcome output is not an object")
        error, detail, waiting = data.get("error"), data.get("detail"), data.get("waiting_for")
        return cls(OutcomeStatus(data["status"]), output, None if error is None else str(error),
                   bool(data.get("retryable", False)), None if detail is None else str(detail),
                   None if waiting is None else str(waiting))
