"""Cancellation through a real `Host`: of a waiting execution, of a running task, of a pending one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.waiting import task_state

from wfhost import Host
from wfpkg import Context, Workflow


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    with Host(home=tmp_path, load_timeout=30) as h:
        yield h


def test_cancelling_a_waiting_execution_stops_it_and_says_who(host: Host) -> None:
    started: list[str] = []
    wf = Workflow("approval")

    @wf.task()
    def decide(ctx: Context) -> None:
        ctx.wait_any(ctx.signal("approval"), ctx.timer(3600))

    @wf.task(depends_on=[decide])
    def place(ctx: Context) -> None:
        started.append("place")

    host.add_workflow(wf)
    eid = host.client.schedule("local::approval", {}, id="cancel-1")
    task_state(host.client, eid, "decide", "waiting")
    assert host.client.cancel(eid, reason="customer withdrew the order") is True

    st = host.wait(eid, timeout=20)
    assert st["status"] == "cancelled"
    assert st["cancelled_by"] == "client: customer withdrew the order"
    assert "customer withdrew" in st["error"]
    states = {t["task"]: (t["state"], t["waiting_for"], t["started_at"]) for t in st["tasks"]}
    assert states["decide"][:2] == ("cancelled", None)
    assert states["place"] == ("cancelled", None, None)  # a pending task never starts
    assert started == []
    assert host.client.cancel(eid) is False  # already finished: nothing to do
    kinds = [e["kind"] for e in host.client.history(eid)]
    assert kinds.index("cancel_requested") < kinds.index("execution_cancelled")


def test_a_running_task_sees_is_cancelled_and_its_next_durable_call_raises(host: Host) -> None:
    running = threading.Event()
    returned = threading.Event()
    seen: list[bool] = []
    after_cancel: list[str] = []
    wf = Workflow("busy")

    @wf.task()
    def crunch(ctx: Context) -> None:
        running.set()
        try:
            stop = threading.Event()
            for _ in range(2000):  # about 20 s of work in small units, checking between them
                if ctx.is_cancelled:
                    break
                stop.wait(0.01)
            seen.append(ctx.is_cancelled)
            ctx.step("save_partial", lambda: after_cancel.append("saved"))
        finally:
            returned.set()

    @wf.task(depends_on=[crunch])
    def report(ctx: Context) -> None:
        after_cancel.append("report")

    host.add_workflow(wf)
    eid = host.client.schedule("local::busy", {}, id="busy-1")
    assert running.wait(20)
    host.client.cancel(eid, reason="operator")

    st = host.wait(eid, timeout=20)
    assert st["status"] == "cancelled"
    # The execution is cancelled at once; the task's thread cannot be killed, so it
    # notices at its next check and its next durable call raises `Cancelled`.
    assert returned.wait(20)
    assert seen == [True]
    assert after_cancel == []  # the step after the cancel never ran, nor the pending task
    assert {t["task"]: t["state"] for t in st["tasks"]} == {"crunch": "cancelled", "report": "cancelled"}


def test_an_execution_can_cancel_another_by_id(host: Host) -> None:
    target = Workflow("target")

    @target.task()
    def wait(ctx: Context) -> None:
        ctx.wait_for_signal("never")

    boss = Workflow("boss")

    @boss.task()
    def fire(ctx: Context) -> None:
        ctx.cancel_execution(ctx["victim"], reason="no longer needed")

    host.add_workflow(target)
    host.add_workflow(boss)
    victim = host.client.schedule("local::target", {}, id="victim-1")
    task_state(host.client, victim, "wait", "waiting")
    boss_id = host.client.schedule("local::boss", {"victim": victim}, id="boss-1")
    assert host.wait(boss_id, timeout=20)["status"] == "succeeded"
    st = host.wait(victim, timeout=20)
    assert st["status"] == "cancelled"
    assert st["cancelled_by"] == "execution boss-1: no longer needed"


def test_a_cancelled_execution_waiting_on_a_timer_never_resumes(host: Host) -> None:
    runs: list[tuple[str, str]] = []
    wf = Workflow("napper")

    @wf.task()
    def nap(ctx: Context) -> None:
        runs.append((ctx.execution_id, "start"))
        ctx.sleep(1.0)  # long enough for the test to see it waiting, even on a loaded machine
        runs.append((ctx.execution_id, "woke"))

    host.add_workflow(wf)
    eid = host.client.schedule("local::napper", {}, id="nap-1")
    task_state(host.client, eid, "nap", "waiting")
    host.client.cancel(eid)
    assert host.wait(eid, timeout=20)["status"] == "cancelled"
    # Let a later timer pass, proving the scheduler turned past the cancelled one's due time.
    other = host.client.schedule("local::napper", {}, id="nap-2")
    assert host.wait(other, timeout=20)["status"] == "succeeded"
    assert runs.count(("nap-1", "start")) == 1  # nap-1 ran once and never resumed
    assert ("nap-1", "woke") not in runs
    assert runs.count(("nap-2", "start")) == 2 and runs.count(("nap-2", "woke")) == 1
    assert "wait_resolved" not in [e["kind"] for e in host.client.history(eid)]
