"""Signals and timers through a real `Host`: buffering, order, one consumer, errors, any-of."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.waiting import task_state, until

from wfhost import Conflict, Host, InvalidRequest, NotFound
from wfpkg import Context, ExecutionNotFound, WaitTimeout, Workflow


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    with Host(home=tmp_path, load_timeout=30) as h:
        yield h


def gated(name: str, gate: threading.Event, consume: int, signal: str = "item") -> Workflow:
    """``hold`` blocks on ``gate`` (a thread event: the task runs in-process); ``take`` then waits."""
    wf = Workflow(name)

    @wf.task()
    def hold(ctx: Context) -> None:
        assert gate.wait(20), "gate never opened"

    @wf.task(depends_on=[hold])
    def take(ctx: Context) -> None:
        ctx["got"] = [ctx.wait_for_signal(signal) for _ in range(consume)]

    return wf


def kinds(host: Host, eid: str, task: str | None = None) -> list[str]:
    return [e["kind"] for e in host.client.history(eid) if task is None or e["task"] == task]


def test_signal_sent_before_the_wait_is_buffered_and_delivered(host: Host) -> None:
    gate = threading.Event()
    host.add_workflow(gated("buffered", gate, consume=1, signal="approval"))
    eid = host.client.schedule("local::buffered", {}, id="buf-1")
    task_state(host.client, eid, "hold", "running")

    host.client.signal(eid, "approval", {"approved": True})  # nobody waits yet
    assert task_state(host.client, eid, "take", "pending")["waiting_for"] is None
    gate.set()

    st = host.wait(eid, timeout=20)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"]["got"] == [{"approved": True}]
    # The buffered signal satisfied the wait at once: the task never suspended.
    assert "task_waiting" not in kinds(host, eid, "take")
    assert kinds(host, eid).index("signal_received") < kinds(host, eid).index("wait_resolved")


def test_signals_of_one_name_are_consumed_in_send_order_each_once(host: Host) -> None:
    wf = Workflow("ordered")

    @wf.task()
    def first(ctx: Context) -> None:
        ctx["first"] = [ctx.wait_for_signal("item") for _ in range(3)]

    @wf.task(depends_on=[first])
    def second(ctx: Context) -> None:
        ctx["second"] = [ctx.wait_for_signal("item") for _ in range(2)]

    host.add_workflow(wf)
    eid = host.client.schedule("local::ordered", {}, id="ord-1")
    host.client.signal(eid, "item", 1)
    host.client.signal(eid, "item", 2)
    # Wait until `first` has consumed both and suspended on its third wait.
    until_third = task_state(host.client, eid, "first", "waiting")
    assert "signal 'item'" in until_third["waiting_for"]
    for n in (3, 4, 5):
        host.client.signal(eid, "item", n)

    st = host.wait(eid, timeout=20)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"]["first"] == [1, 2, 3]
    assert st["output"]["second"] == [4, 5]
    resolved = [e for e in host.client.history(eid) if e["kind"] == "wait_resolved"]
    assert len(resolved) == 5


def test_signal_to_unknown_or_finished_execution_is_refused(host: Host) -> None:
    wf = Workflow("quick")

    @wf.task()
    def done(ctx: Context) -> None:
        ctx["ok"] = True

    host.add_workflow(wf)
    with pytest.raises(NotFound, match="nobody-here"):
        host.client.signal("nobody-here", "approval", {})
    eid = host.client.schedule("local::quick", {}, id="quick-1")
    assert host.wait(eid, timeout=20)["status"] == "succeeded"
    with pytest.raises(Conflict, match="quick-1"):
        host.client.signal(eid, "approval", {"late": True})
    assert "signal_received" not in kinds(host, eid)


def test_bad_signal_payloads_and_names_are_invalid_requests(host: Host) -> None:
    gate = threading.Event()
    host.add_workflow(gated("strict", gate, consume=1))
    eid = host.client.schedule("local::strict", {}, id="strict-1")
    with pytest.raises(InvalidRequest, match="not JSON"):
        host.client.signal(eid, "item", {"when": object()})
    with pytest.raises(InvalidRequest, match="limit"):
        host.client.signal(eid, "item", "x" * (256 * 1024 + 1))
    with pytest.raises(InvalidRequest, match="signal name"):
        host.client.signal(eid, "Not-A-Name", {})
    host.client.signal(eid, "item", "x" * (200 * 1024))  # under the limit: accepted
    gate.set()
    st = host.wait(eid, timeout=20)
    assert st["status"] == "succeeded", st["error"]
    assert len(st["output"]["got"][0]) == 200 * 1024
    assert kinds(host, eid).count("signal_received") == 1


def test_signal_from_task_code_to_unknown_execution_raises_in_the_task(host: Host) -> None:
    wf = Workflow("sender")

    @wf.task()
    def send(ctx: Context) -> None:
        try:
            ctx.signal_execution("ghost", "hello", {})
        except ExecutionNotFound as exc:
            ctx["error"] = str(exc)

    host.add_workflow(wf)
    st = host.wait(host.client.schedule("local::sender", {}), timeout=20)
    assert st["status"] == "succeeded", st["error"]
    assert "ghost" in st["output"]["error"]


def sleeper(host: Host, seconds: float) -> None:
    """Run an execution that sleeps ``seconds``: when it ends, the scheduler has passed that time."""
    wf = Workflow("sleeper")

    @wf.task()
    def nap(ctx: Context) -> None:
        ctx.sleep(seconds)

    host.add_workflow(wf)
    assert host.wait(host.client.schedule("local::sleeper", {}), timeout=20)["status"] == "succeeded"


def any_of(timer: float, then_wait: bool = False) -> Workflow:
    wf = Workflow("any_of")

    @wf.task()
    def decide(ctx: Context) -> None:
        first = ctx.wait_any(ctx.signal("approval"), ctx.timer(timer))
        ctx.update(index=first.index, value=first.value)
        if then_wait:
            ctx["next"] = ctx.wait_for_signal("approval")

    return wf


def test_wait_any_signal_first_and_the_timer_never_fires(host: Host) -> None:
    host.add_workflow(any_of(timer=1.0))  # long enough to signal first, even on a loaded machine
    eid = host.client.schedule("local::any_of", {}, id="any-signal")
    waiting = task_state(host.client, eid, "decide", "waiting")["waiting_for"]
    assert "signal 'approval'" in waiting and "timer due" in waiting
    host.client.signal(eid, "approval", {"approved": True})
    st = host.wait(eid, timeout=20)
    assert st["output"] == {"index": 0, "value": {"approved": True}}

    sleeper(host, 1.2)  # the scheduler has turned well past the losing timer's due time
    resolved = [e for e in host.client.history(eid) if e["kind"] == "wait_resolved"]
    assert [e["result"] for e in resolved] == ["signal approval"]
    assert host.client.status(eid)["status"] == "succeeded"


def test_wait_any_timer_first_and_a_later_signal_goes_to_the_next_wait(host: Host) -> None:
    host.add_workflow(any_of(timer=0.2, then_wait=True))
    eid = host.client.schedule("local::any_of", {}, id="any-timer")

    def on_second_wait() -> dict[str, object] | None:
        entry = task_state(host.client, eid, "decide", "waiting")
        return entry if "timer" not in (entry["waiting_for"] or "timer") else None

    entry = until(on_second_wait, "the task to wait for the signal alone")
    assert entry["waiting_for"] == "signal 'approval'"
    host.client.signal(eid, "approval", {"approved": False})
    st = host.wait(eid, timeout=20)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"] == {"index": 1, "value": None, "next": {"approved": False}}
    resolved = [e["result"] for e in host.client.history(eid) if e["kind"] == "wait_resolved"]
    assert resolved == ["timer fired", "signal approval"]


def test_wait_for_signal_timeout_raises_wait_timeout(host: Host) -> None:
    wf = Workflow("patient")

    @wf.task()
    def wait(ctx: Context) -> None:
        try:
            ctx.wait_for_signal("never", timeout=0.2)
        except WaitTimeout as exc:
            ctx["timed_out"] = str(exc)

    host.add_workflow(wf)
    eid = host.client.schedule("local::patient", {}, id="patient-1")
    st = host.wait(eid, timeout=20)
    assert st["status"] == "succeeded", st["error"]
    assert "never" in st["output"]["timed_out"]
    # What it waited for is in its history (polling status could miss a 0.2 s wait).
    [waited] = [e for e in host.client.history(eid) if e["kind"] == "task_waiting"]
    assert "signal 'never'" in waited["waiting_for"] and "timeout at" in waited["waiting_for"]
    [resolved] = [e for e in host.client.history(eid) if e["kind"] == "wait_resolved"]
    assert resolved["result"] == "timeout"
