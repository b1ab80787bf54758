"""The typed protocol: every message survives its JSON form, and errors come back as their class."""

from __future__ import annotations

import json

import pytest

from wfpkg import errors
from wfpkg.errors import ChildWorkflowError, ExecutionNotFound, WfpkgError, error_from_info, error_info
from wfpkg.protocol import (
    TERMINAL_EXECUTION,
    CancelExecution,
    ChildStarted,
    ChildWait,
    Done,
    DurableCall,
    ErrorInfo,
    ExecutionStatus,
    Failed,
    JournalEntry,
    Now,
    NowResult,
    OutcomeStatus,
    Result,
    SignalExecution,
    SignalWait,
    StartChild,
    Step,
    StepResult,
    TaskOutcome,
    TaskRequest,
    TimerWait,
    WaitCall,
    WaitDone,
    decode_call,
    decode_result,
    encode_call,
    encode_result,
)

CALLS: list[DurableCall] = [
    Step("charge", {"amount": 3, "ok": True}),
    Now(),
    WaitCall((SignalWait("approval"), TimerWait(60.0), ChildWait("c-1")), "any", 5.0),
    WaitCall((ChildWait("a"), ChildWait("b")), "all"),
    SignalExecution("other", "go", [1, 2]),
    CancelExecution("other", "no longer needed"),
    StartChild("shop::ship", {"item": 1}, id="child-1", timeout=30.0, retry=2),
]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.kind)
def test_every_durable_call_survives_the_wire(call: DurableCall) -> None:
    wire = json.loads(json.dumps(encode_call(call)))
    assert decode_call(wire) == call


RESULTS: list[tuple[str, Result]] = [
    ("step", StepResult({"x": [1]})),
    ("now", NowResult("2026-01-01T00:00:00+00:00")),
    ("wait", WaitDone(1, {"approved": True})),
    ("wait", WaitDone(values=[None, {"id": "c"}])),
    ("wait", WaitDone(timed_out=True)),
    ("signal_execution", Done()),
    ("cancel_execution", Done()),
    ("start_child", ChildStarted("child-1")),
    ("signal_execution", Failed(ErrorInfo("execution_not_found", "no execution 'x'"))),
]


@pytest.mark.parametrize(("kind", "result"), RESULTS, ids=lambda r: str(r)[:30])
def test_every_result_survives_the_journal(kind: str, result: Result) -> None:
    stored = json.loads(json.dumps(encode_result(result)))
    assert decode_result(kind, stored) == result


def test_an_attempt_request_and_outcome_survive_the_wire() -> None:
    request = TaskRequest("r1", "acme", "ex-1", "main", "t", 2, {"a": 1},
                          [JournalEntry(1, "step", "charge", StepResult(5))])
    assert TaskRequest.from_dict(json.loads(json.dumps(request.to_dict()))) == request
    outcome = TaskOutcome(OutcomeStatus.SUSPENDED, waiting_for="signal 'go'")
    assert TaskOutcome.from_dict(json.loads(json.dumps(outcome.to_dict()))) == outcome


def test_an_unknown_call_kind_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="unknown durable call kind 'teleport'"):
        decode_call({"kind": "teleport"})


def test_calls_dispatch_on_their_type() -> None:
    def handle(call: DurableCall) -> str:
        match call:
            case Step(step=name):
                return f"step {name}"
            case WaitCall(mode="all"):
                return "all"
            case _:
                return call.kind

    assert [handle(c) for c in CALLS] == ["step charge", "now", "wait", "all", "signal_execution",
                                         "cancel_execution", "start_child"]


def test_an_error_crosses_as_its_code_and_comes_back_as_its_class() -> None:
    child = ChildWorkflowError("c-1", "failed", "boom")
    back = error_from_info(ErrorInfo.from_json(json.loads(json.dumps(child.info().to_json()))))
    assert isinstance(back, ChildWorkflowError)
    assert (back.child_id, back.status, back.error, str(back)) == ("c-1", "failed", "boom", str(child))
    gone = error_from_info(ExecutionNotFound("no execution 'x'").info())
    assert type(gone) is ExecutionNotFound and str(gone) == "no execution 'x'"
    assert isinstance(error_from_info(error_info(errors.Cancelled("stop"))), errors.Cancelled)
    # A code this process does not know still arrives as our root, with its message.
    unknown = error_from_info(ErrorInfo("from_the_future", "something new"))
    assert type(unknown) is WfpkgError and str(unknown) == "something new"


def test_an_authors_own_error_travels_under_its_parents_code() -> None:
    class OutOfStock(errors.TaskError):
        pass

    assert OutOfStock("none left").info() == ErrorInfo("task", "none left")


def test_every_error_class_has_its_own_unique_code() -> None:
    classes = [obj for obj in vars(errors).values()
               if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == errors.__name__]
    codes = [c.__dict__.get("code") for c in classes]
    assert None not in codes, [c.__name__ for c in classes if "code" not in c.__dict__]
    assert len(set(codes)) == len(codes)


def test_states_are_their_stored_strings() -> None:
    assert ExecutionStatus.SUCCEEDED == "succeeded" and ExecutionStatus("waiting") is ExecutionStatus.WAITING
    assert ExecutionStatus.CANCELLED in TERMINAL_EXECUTION and "cancelled" in TERMINAL_EXECUTION
    assert str(ExecutionStatus.RUNNING) == "running"
