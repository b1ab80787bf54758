"""The `approvals` sample, built, signed, registered for a tenant and run in its worker."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from support.hosting import packaged_host
from support.waiting import task_state, until

from wfhost import Host
from wfhost.store._db import E, J


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    with packaged_host(tmp_path_factory.mktemp("approvals"), ["approvals"]) as h:
        yield h


def states(st: dict[str, Any]) -> dict[str, str]:
    return {t["task"]: t["state"] for t in st["tasks"]}


# -- multi-stage approval ------------------------------------------------------------------

STAGES = "approvals::multi_stage_approval"


def test_every_stage_approves_in_turn(host: Host) -> None:
    eid = host.client.schedule(STAGES, {"request": "new laptop"}, id="stages-ok")
    for stage, who in (("manager", "mia"), ("director", "dan"), ("vp", "vic")):
        waiting = task_state(host.client, eid, stage, "waiting")["waiting_for"]
        assert f"signal '{stage}_decision'" in waiting
        host.client.signal(eid, f"{stage}_decision", {"approved": True, "by": who})
    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"]["status"] == "approved"
    assert [(t["stage"], t["by"]) for t in st["output"]["trail"]] == [
        ("manager", "mia"), ("director", "dan"), ("vp", "vic")]


def test_a_rejection_at_any_stage_skips_the_rest(host: Host) -> None:
    eid = host.client.schedule(STAGES, {"request": "yacht"}, id="stages-rejected")
    host.client.signal(eid, "manager_decision", {"approved": True, "by": "mia"})
    host.client.signal(eid, "director_decision", {"approved": False, "by": "dan", "reason": "no"})
    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"]["status"] == "rejected" and st["output"]["rejected_at"] == "director"
    assert states(st) == {"manager": "succeeded", "director": "succeeded", "vp": "skipped",
                          "outcome": "succeeded"}


def test_a_stage_that_times_out_rejects(host: Host) -> None:
    eid = host.client.schedule(STAGES, {"stage_timeout_seconds": 0.3}, id="stages-timeout")
    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"]["rejected_at"] == "manager"
    assert st["output"]["trail"] == [
        {"stage": "manager", "approved": False, "by": None, "reason": "timed out"}]
    assert states(st)["director"] == states(st)["vp"] == "skipped"


# -- order fulfilment -----------------------------------------------------------------------

ORDER = "approvals::order_fulfillment"


def test_order_waits_for_payment_shipping_and_delivery_in_turn(host: Host) -> None:
    eid = host.client.schedule(ORDER, {"order_id": "A-17"}, id="order-17")
    assert "payment_confirmed" in task_state(host.client, eid, "await_payment", "waiting")["waiting_for"]
    assert states(host.client.status(eid))["await_shipment"] == "pending"
    host.client.signal(eid, "payment_confirmed", {"amount": 99})
    assert "'shipped'" in task_state(host.client, eid, "await_shipment", "waiting")["waiting_for"]
    # Delivered reported before shipped: buffered until its stage waits for it.
    host.client.signal(eid, "delivered", {"signed_by": "kim"})
    host.client.signal(eid, "shipped", {"carrier": "ups"})
    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"] == {"payment": {"amount": 99}, "shipment": {"carrier": "ups"},
                            "delivery": {"signed_by": "kim"}, "order_status": "fulfilled"}


# -- webhook stream -------------------------------------------------------------------------

WEBHOOKS = "approvals::webhook_processor"


def fold(checksum: str, event: Any) -> str:
    data = (checksum + json.dumps(event, sort_keys=True, separators=(",", ":"))).encode()
    return hashlib.sha256(data).hexdigest()[:16]


def test_webhook_stream_is_consumed_in_order_and_continues_as_new(host: Host) -> None:
    eid = host.client.schedule(WEBHOOKS, {"events_per_run": 3}, id="hooks-1")
    events = [{"event_id": i, "type": "push" if i % 2 else "pull_request"} for i in range(8)]
    for event in events[:5]:
        host.client.signal(eid, "webhook_event", event)
    # Run 1 consumes three, continues as new; run 2 consumes two and waits for more.
    until(lambda: host.client.status(eid)["run"] == 2
          and states(host.client.status(eid))["consume"] == "waiting", "run 2 to wait for events")
    for event in events[5:]:
        host.client.signal(eid, "webhook_event", event)
    host.client.signal(eid, "terminate", {"by": "ops"})

    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    expected = ""
    for event in events:
        expected = fold(expected, event)
    assert st["output"] == {"count": 8, "checksum": expected, "runs": 3, "terminated_by": {"by": "ops"}}
    assert st["id"] == "hooks-1" and st["run"] == 3
    assert [e["run"] for e in host.client.history(eid) if e["kind"] == "continued_as_new"] == [2, 3]
    with host.engine.connect() as conn:
        uid = conn.execute(select(E.c.uid).where(E.c.tenant == "acme", E.c.id == eid)).scalar_one()
        # Only the last run's journal is kept: 2 events + terminate.
        assert conn.execute(select(func.count()).select_from(J).where(J.c.execution_uid == uid)).scalar() == 3
