"""The `purchase_approval` sample, built, signed, registered for a tenant and run in its worker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.hosting import packaged_host
from support.waiting import task_state

from wfhost import Host

WORKFLOW = "purchase_approval::purchase_approval"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    with packaged_host(tmp_path_factory.mktemp("purchase_approval"), ["purchase_approval"]) as h:
        yield h


def states(st: dict) -> dict[str, str]:
    return {t["task"]: t["state"] for t in st["tasks"]}


def outboxes(host: Host, name: str) -> list[Path]:
    """The outbox files the tasks wrote: in their worker's scratch dir, the only place they may write."""
    return sorted((host.home / "run").glob(f"*/scratch/{name}"))


def test_small_order_is_auto_approved_and_placed(host: Host) -> None:
    eid = host.client.schedule(WORKFLOW, {"order_id": "o-1", "cost": 50, "quantity": 3,
                                          "outbox": "outbox-1.jsonl"}, id="order-auto")
    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    assert st["workflow"] == WORKFLOW and st["version"] == "1.0.0" and st["tenant"] == "acme"
    assert st["output"]["decision"] == "auto_approved"
    assert st["output"]["order_status"] == "placed"
    assert states(st)["cancel_order"] == "skipped"
    assert outboxes(host, "outbox-1.jsonl") == []  # nobody was asked


def test_large_order_waits_for_approval_and_is_placed(host: Host) -> None:
    eid = host.client.schedule(WORKFLOW, {"order_id": "o-2", "cost": 600, "quantity": 2,
                                          "outbox": "outbox-2.jsonl"}, id="order-approved")
    waiting = task_state(host.client, eid, "approval", "waiting")["waiting_for"]
    assert "signal 'approval'" in waiting and "timer" in waiting
    assert host.client.status(eid)["status"] == "waiting"
    host.client.signal(eid, "approval", {"approved": True, "approver": "ada"})

    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    out = st["output"]
    assert (out["decision"], out["approver"], out["order_status"]) == ("approved", "ada", "placed")
    assert out["total"] == 1200 and out["request"]["subject"] == "approve order o-2"
    assert states(st) == {"check_order": "succeeded", "approval": "succeeded",
                          "place_order": "succeeded", "cancel_order": "skipped"}
    # The request was sent once, although the task ran again after the signal.
    [outbox] = outboxes(host, "outbox-2.jsonl")
    lines = outbox.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["order"]["order_id"] == "o-2"


def test_rejection_cancels_the_order(host: Host) -> None:
    eid = host.client.schedule(WORKFLOW, {"order_id": "o-3", "cost": 5000}, id="order-rejected")
    # Sent at once: buffered if the task does not wait yet, delivered either way.
    host.client.signal(eid, "approval", {"approved": False, "approver": "bob", "reason": "over budget"})
    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    out = st["output"]
    assert (out["decision"], out["reason"], out["order_status"]) == ("rejected", "over budget", "cancelled")
    assert states(st)["place_order"] == "skipped"


def test_no_answer_before_the_timeout_cancels_the_order(host: Host) -> None:
    eid = host.client.schedule(WORKFLOW, {"order_id": "o-4", "cost": 1000, "timeout_seconds": 0.3},
                               id="order-timeout")
    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"]["decision"] == "timed_out"
    assert st["output"]["order_status"] == "cancelled"
    resolved = [e["result"] for e in host.client.history(eid) if e["kind"] == "wait_resolved"]
    assert resolved == ["timer fired"]
