"""Retrying a failed or cancelled execution: successes kept, failed and skipped tasks run afresh."""

from __future__ import annotations

import pytest
from support.waiting import task_state

from wfhost import Conflict, Host
from wfpkg import Context, Workflow


def _flaky(runs: list[str], fail: dict[str, bool]) -> Workflow:
    wf = Workflow("flaky")

    @wf.task
    def fetch(ctx: Context) -> None:
        runs.append("fetch")
        ctx["rows"] = 3

    @wf.task
    def audit(ctx: Context) -> None:
        runs.append("audit")
        ctx["audited"] = True

    @wf.task(depends_on=[fetch])
    def load(ctx: Context) -> None:
        runs.append("load")
        if fail["load"]:
            raise RuntimeError("warehouse down")
        ctx["loaded"] = ctx["rows"]

    @wf.task(depends_on=[load])
    def report(ctx: Context) -> None:
        runs.append("report")
        ctx["report"] = f"{ctx['loaded']} rows"

    return wf


def test_retry_reruns_only_the_failed_task_and_what_it_blocked(host: Host) -> None:
    runs: list[str] = []
    fail = {"load": True}
    host.add_workflow(_flaky(runs, fail))
    eid = host.client.schedule("local::flaky", {}, id="nightly")
    first = host.wait(eid, timeout=30)
    assert first["status"] == "failed" and "warehouse down" in first["error"]
    assert {t["task"]: t["state"] for t in first["tasks"]}["report"] == "skipped"

    fail["load"] = False
    assert host.client.retry(eid, by="ops") == ["load", "report"]
    done = host.wait(eid, timeout=30)
    assert done["status"] == "succeeded", done["error"]
    assert done["output"] == {"rows": 3, "audited": True, "loaded": 3, "report": "3 rows"}
    assert sorted(runs) == ["audit", "fetch", "load", "load", "report"]  # successes not re-run
    assert {t["task"]: t["attempts"] for t in done["tasks"]}["load"] == 1  # a fresh attempt count
    retried = [e for e in host.client.history(eid) if e["kind"] == "execution_retried"]
    assert [e.detail for e in retried] == [{"by": "ops", "tasks": ["load", "report"]}]
    with pytest.raises(Conflict, match="only a failed or cancelled execution"):
        host.client.retry(eid)


def test_retry_of_a_cancelled_execution_runs_its_cancelled_tasks(host: Host) -> None:
    wf = Workflow("gate")

    @wf.task
    def first(ctx: Context) -> None:
        ctx["first"] = 1

    @wf.task(depends_on=[first])
    def wait(ctx: Context) -> None:
        ctx["go"] = ctx.wait_for_signal("go")

    host.add_workflow(wf)
    eid = host.client.schedule("local::gate", {})
    task_state(host.client, eid, "wait", "waiting")
    host.client.cancel(eid, reason="oops")
    assert host.wait(eid, timeout=30)["status"] == "cancelled"
    assert host.client.retry(eid) == ["wait"]
    task_state(host.client, eid, "wait", "waiting")
    host.client.signal(eid, "go", "now")
    done = host.wait(eid, timeout=30)
    assert done["status"] == "succeeded" and done["output"] == {"first": 1, "go": "now"}
