"""The `coordination` sample, built, signed, registered for a tenant and run in its worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.hosting import packaged_host
from support.waiting import task_state

from wfhost import Host

ORCHESTRATOR = "coordination::orchestrator"
MANAGED = "coordination::managed_task"
PRODUCER = "coordination::producer"
CONSUMER = "coordination::consumer"
TIMER = "coordination::timer_signal"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    with packaged_host(tmp_path_factory.mktemp("coordination"), ["coordination"]) as h:
        yield h


def test_orchestrator_runs_managed_executions_in_dependency_order(host: Host) -> None:
    ids = ["ok-a", "ok-b", "ok-c"]
    for eid in ids:
        host.client.schedule(MANAGED, {}, id=eid)
    orch = host.client.schedule(ORCHESTRATOR, {"tasks": [
        {"id": "ok-a", "parameters": {"values": [1, 2]}},
        {"id": "ok-b", "after": "ok-a", "parameters": {"values": [3]}},
        {"id": "ok-c", "after": "ok-b"},
    ]}, id="orch-ok")
    st = host.wait(orch, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"]["signalled"] == ids
    assert st["output"]["completed"] == ids  # each waited for its upstream
    assert st["output"]["failed"] == st["output"]["cancelled"] == []
    results = [host.wait(eid, timeout=30)["output"]["result"]["output"] for eid in ids]
    assert results == [3, 3, 0]
    assert host.client.status("ok-b")["output"]["upstream"] == {"upstream": "ok-a"}


def test_orchestrator_cancels_the_dependents_of_a_failed_execution(host: Host) -> None:
    for eid in ("job-a", "job-b", "job-c", "job-d"):
        host.client.schedule(MANAGED, {}, id=eid)
    orch = host.client.schedule(ORCHESTRATOR, {"tasks": [
        {"id": "job-a"},
        {"id": "job-b", "parameters": {"fail": True}},
        {"id": "job-c", "after": "job-b"},
        {"id": "job-d", "after": "job-c"},
    ]}, id="orch-1")
    st = host.wait(orch, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    out = st["output"]
    assert (out["completed"], out["failed"], out["cancelled"]) == (["job-a"], ["job-b"], ["job-c", "job-d"])
    assert host.wait("job-a", timeout=30)["status"] == "succeeded"
    failed = host.wait("job-b", timeout=30)
    assert failed["status"] == "failed" and "failed as its parameters asked" in failed["error"]
    for eid in ("job-c", "job-d"):
        st = host.wait(eid, timeout=30)
        assert st["status"] == "cancelled"
        assert st["cancelled_by"] == "execution orch-1: dependency job-b failed"


def test_producer_notifies_consumers_and_a_starved_one_times_out(host: Host) -> None:
    host.client.schedule(CONSUMER, {"timeout_seconds": 30}, id="consumer-1")
    host.client.schedule(CONSUMER, {"timeout_seconds": 30}, id="consumer-2")
    # Long enough for the producer's one signal to arrive first, even on a loaded machine.
    host.client.schedule(CONSUMER, {"expected": 2, "timeout_seconds": 3}, id="consumer-greedy")
    host.client.schedule(CONSUMER, {"timeout_seconds": 0.3}, id="consumer-starved")
    task_state(host.client, "consumer-1", "collect", "waiting")
    prod = host.client.schedule(PRODUCER, {
        "size": 4, "consumers": ["consumer-1", "consumer-2", "consumer-greedy", "nobody"]},
        id="producer-1")

    st = host.wait(prod, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"]["notified"] == ["consumer-1", "consumer-2", "consumer-greedy"]
    assert [u["id"] for u in st["output"]["unreachable"]] == ["nobody"]
    for eid in ("consumer-1", "consumer-2"):
        out = host.wait(eid, timeout=30)["output"]
        assert out["timed_out"] is False and out["total"] == 6
        assert out["received"][0]["producer_workflow_id"] == "producer-1"
    greedy = host.wait("consumer-greedy", timeout=30)["output"]
    assert greedy["timed_out"] is True and len(greedy["received"]) == 1  # partial data, then timeout
    starved = host.wait("consumer-starved", timeout=30)["output"]
    assert starved == {"received": [], "timed_out": True, "total": 0}


def test_timer_workflow_sleeps_then_signals_its_target(host: Host) -> None:
    target = host.client.schedule(CONSUMER, {"signal": "timer_expired"}, id="alarm-target")
    timer = host.client.schedule(TIMER, {"delay_seconds": 1.0, "target": target}, id="alarm-1")
    assert "timer due" in task_state(host.client, timer, "wait_then_signal", "waiting")["waiting_for"]
    assert host.wait(timer, timeout=30)["output"] == {"notified": True}
    out = host.wait(target, timeout=30)["output"]
    assert out["received"] == [{"timer_id": "alarm-1", "target_workflow_id": "alarm-target"}]

    late = host.client.schedule(TIMER, {"delay_seconds": 0.1, "target": target}, id="alarm-2")
    out = host.wait(late, timeout=30)["output"]
    assert out["notified"] is False and "already succeeded" in out["error"]
