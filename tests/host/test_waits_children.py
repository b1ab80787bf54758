"""Child workflows through a real `Host`: ids, failure handled by the parent, cancel cascades."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.waiting import execution_state, task_state

from wfhost import Host
from wfpkg import ChildWorkflowError, Context, FatalTaskError, Workflow


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    with Host(home=tmp_path, load_timeout=30) as h:
        yield h


def kid_workflow() -> Workflow:
    kid = Workflow("kid")

    @kid.task()
    def work(ctx: Context) -> None:
        if ctx.get("hold"):
            ctx.wait_for_signal("release")
        if ctx.get("fail"):
            raise FatalTaskError(f"kid {ctx.execution_id} was asked to fail")
        ctx["doubled"] = ctx["n"] * 2

    return kid


def test_child_failure_is_an_error_the_parent_handles(host: Host) -> None:
    parent = Workflow("parent")

    @parent.task()
    def run(ctx: Context) -> None:
        good = ctx.start_child("kid", {"n": 1}, id=f"{ctx.execution_id}.good")
        bad = ctx.start_child("kid", {"n": 2, "fail": True}, id=f"{ctx.execution_id}.bad")
        ctx["good"] = good.result()
        try:
            bad.result()
        except ChildWorkflowError as exc:
            ctx["caught"] = {"id": exc.child_id, "status": exc.status, "error": exc.error}
        again = ctx.gather([good, bad])
        ctx["gathered"] = [(r.id, r.ok) for r in again]

    host.add_workflow(kid_workflow())
    host.add_workflow(parent)
    eid = host.client.schedule("local::parent", {}, id="job-1")
    st = host.wait(eid, timeout=20)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"]["good"] == {"doubled": 2}
    caught = st["output"]["caught"]
    assert caught["id"] == "job-1.bad" and caught["status"] == "failed"
    assert "asked to fail" in caught["error"]
    assert st["output"]["gathered"] == [["job-1.good", True], ["job-1.bad", False]]
    assert {c["id"]: c["status"] for c in st["children"]} == {
        "job-1.good": "succeeded", "job-1.bad": "failed"}
    assert host.client.status("job-1.bad")["parent"] == "job-1"


def test_status_shows_the_child_a_task_waits_for_and_default_ids(host: Host) -> None:
    parent = Workflow("parent")

    @parent.task()
    def run(ctx: Context) -> None:
        ctx["out"] = ctx.start_child("kid", {"n": 5, "hold": True}).result()

    host.add_workflow(kid_workflow())
    host.add_workflow(parent)
    eid = host.client.schedule("local::parent", {}, id="job-2")
    child_id = "job-2.run.1"  # default: <parent id>.<task>.<call number>
    waiting = task_state(host.client, eid, "run", "waiting")["waiting_for"]
    assert child_id in waiting
    task_state(host.client, child_id, "work", "waiting")
    host.client.signal(child_id, "release")
    st = host.wait(eid, timeout=20)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"]["out"] == {"doubled": 10}
    assert [c["id"] for c in st["children"]] == [child_id]  # the child under its parent
    started = [e for e in host.client.history(eid) if e["kind"] == "child_started"]
    assert [(e["task"], e["child"]) for e in started] == [("run", child_id)]


def test_cancelling_a_parent_cancels_every_descendant(host: Host) -> None:
    top = Workflow("top")

    @top.task()
    def spawn(ctx: Context) -> None:
        ctx.gather([ctx.start_child("middle", {}, id=f"{ctx.execution_id}.m{i}") for i in range(2)])

    middle = Workflow("middle")

    @middle.task()
    def spawn_kids(ctx: Context) -> None:
        ctx.start_child("kid", {"n": 1, "hold": True}, id=f"{ctx.execution_id}.k").result()

    for wf in (kid_workflow(), middle, top):
        host.add_workflow(wf)
    eid = host.client.schedule("local::top", {}, id="tree")
    leaves = ["tree.m0.k", "tree.m1.k"]
    for leaf in leaves:
        task_state(host.client, leaf, "work", "waiting")
    host.client.cancel(eid, reason="shutting down")

    assert host.wait(eid, timeout=20)["status"] == "cancelled"
    for mid in ("tree.m0", "tree.m1"):
        st = host.wait(mid, timeout=20)
        assert st["status"] == "cancelled" and st["cancelled_by"].startswith("parent tree")
    for leaf in leaves:
        st = execution_state(host.client, leaf, "cancelled")
        assert st["cancelled_by"].startswith("parent tree.m")
        assert st["tasks"][0]["state"] == "cancelled"


def test_a_failed_parent_cancels_its_running_children(host: Host) -> None:
    parent = Workflow("parent")

    @parent.task()
    def run(ctx: Context) -> None:
        ctx.start_child("kid", {"n": 1, "hold": True}, id=f"{ctx.execution_id}.kid")
        ctx.wait_for_signal("give_up")
        raise FatalTaskError("parent gave up")

    host.add_workflow(kid_workflow())
    host.add_workflow(parent)
    eid = host.client.schedule("local::parent", {}, id="job-3")
    task_state(host.client, "job-3.kid", "work", "waiting")
    host.client.signal(eid, "give_up")
    assert host.wait(eid, timeout=20)["status"] == "failed"
    st = execution_state(host.client, "job-3.kid", "cancelled")
    assert st["cancelled_by"] == "parent job-3: failed"


def test_a_failed_child_is_started_again_up_to_its_retry_count(host: Host) -> None:
    runs: list[str] = []
    flaky = Workflow("flaky_kid")

    @flaky.task()
    def work(ctx: Context) -> None:
        runs.append(ctx.execution_id)
        if len(runs) < 3:
            raise FatalTaskError(f"run {len(runs)} fails")
        ctx["run"] = len(runs)

    parent = Workflow("retrying_parent")

    @parent.task()
    def call(ctx: Context) -> None:
        ctx["out"] = ctx.start_child("flaky_kid", {}, id="flaky-1", retry=2).result()

    host.add_workflow(flaky)
    host.add_workflow(parent)
    st = host.wait(host.client.schedule("local::retrying_parent", {}), timeout=30)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"]["out"] == {"run": 3}
    assert runs == ["flaky-1"] * 3  # the same child id, run three times
    kinds = [e["kind"] for e in host.client.history("flaky-1")]
    assert kinds.count("retried") == 2 and kinds[-1] == "execution_succeeded"


def test_a_child_past_its_timeout_fails_and_the_parent_sees_it(host: Host) -> None:
    parent = Workflow("impatient")

    @parent.task()
    def call(ctx: Context) -> None:
        try:
            ctx.start_child("kid", {"n": 1, "hold": True}, id="slow-kid", timeout=0.3).result()
        except ChildWorkflowError as exc:
            ctx["child_error"] = {"id": exc.child_id, "status": exc.status, "error": exc.error}

    host.add_workflow(kid_workflow())
    host.add_workflow(parent)
    st = host.wait(host.client.schedule("local::impatient", {}), timeout=30)
    assert st["status"] == "succeeded", st["error"]
    err = st["output"]["child_error"]
    assert err["id"] == "slow-kid" and err["status"] == "failed" and "timeout" in err["error"]
    assert host.client.status("slow-kid")["status"] == "failed"
