"""`Client` returns typed results with one JSON form, and raises only our errors."""

from __future__ import annotations

import json
import threading

import pytest

from wfhost import Host
from wfhost.results import Event, Execution, ExecutionSummary, TaskRun
from wfpkg import Context, Timeout, WfpkgError, Workflow
from wfpkg.protocol import ExecutionStatus, TaskState


def two_steps(gate: threading.Event) -> Workflow:
    wf = Workflow("two_steps")

    @wf.task()
    def first(ctx: Context) -> None:
        ctx["a"] = 1

    @wf.task(depends_on=[first])
    def second(ctx: Context) -> None:
        assert gate.wait(20)
        ctx["b"] = 2

    return wf


def test_status_history_and_executions_are_typed_with_a_json_form(sqlite_host: Host) -> None:
    host = sqlite_host
    gate = threading.Event()
    host.add_workflow(two_steps(gate))
    eid = host.client.schedule("local::two_steps", {"x": 1}, id="typed-results")
    gate.set()
    done = host.client.wait(eid, timeout=20)

    assert isinstance(done, Execution) and done.status is ExecutionStatus.SUCCEEDED and done.finished
    assert [t.task for t in done.tasks] == ["first", "second"]
    assert all(isinstance(t, TaskRun) and t.state is TaskState.SUCCEEDED for t in done.tasks)
    assert done.cancel_requested is False and done.output == {"a": 1, "b": 2}

    as_json = json.loads(json.dumps(done.to_dict()))
    assert set(as_json) == {"id", "tenant", "workflow", "version", "status", "input", "output",
                            "error", "run", "created_at", "started_at", "finished_at",
                            "cancel_requested", "cancelled_by", "parent", "tasks", "children"}
    assert as_json["status"] == "succeeded" and as_json["cancel_requested"] is False
    assert as_json["created_at"].endswith("Z") and as_json["tasks"][1]["finished_at"].endswith("Z")
    assert as_json["tasks"][0]["state"] == "succeeded"
    # Code written against the dict results still reads it.
    assert done["status"] == "succeeded" and done["tasks"][0]["task"] == "first"

    events = host.client.history(eid)
    assert all(isinstance(e, Event) for e in events)
    started = next(e for e in events if e.kind == "task_started")
    assert started.detail == {"attempt": 1, "host": host.host_id} and started.to_dict()["attempt"] == 1
    assert started.to_dict()["at"].endswith("Z")

    rows = host.client.executions()
    assert [type(r) for r in rows] == [ExecutionSummary]
    assert rows[0].to_dict()["child"] is False and rows[0].to_dict()["created_at"].endswith("Z")


def test_wait_raises_our_timeout(sqlite_host: Host) -> None:
    host = sqlite_host
    gate = threading.Event()
    host.add_workflow(two_steps(gate))
    eid = host.client.schedule("local::two_steps", {}, id="slow")
    with pytest.raises(Timeout, match="execution 'slow' still running after 0.2s") as caught:
        host.client.wait(eid, timeout=0.2)
    assert isinstance(caught.value, WfpkgError) and isinstance(caught.value, TimeoutError)
    gate.set()


def test_registry_errors_reach_the_caller_as_our_errors(sqlite_host: Host) -> None:
    with pytest.raises(WfpkgError, match="ghost"):
        sqlite_host.client.packages("ghost")
    with pytest.raises(WfpkgError):
        sqlite_host.client.revoke("ghost", "nokey")
