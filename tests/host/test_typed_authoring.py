"""The typed authoring API through a real `Host`: typed signal payloads, named any-of, typed steps."""

from __future__ import annotations

from dataclasses import dataclass

from support.waiting import task_state
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from wfhost import Host
from wfpkg import Context, InvalidPayload, Workflow


@dataclass
class Approval:
    approved: bool
    approver: str


class Shipment(TypedDict):
    carrier: str
    parcels: int


def typed() -> Workflow:
    wf = Workflow("typed")

    @wf.task()
    def approve(ctx: Context) -> None:
        answer = ctx.wait_for_signal("approval", type=Approval)
        ctx.update(kind=type(answer).__name__, approved=answer.approved, approver=answer.approver)
        shipment = ctx.wait_for_signal("shipment", type=Shipment)
        ctx["parcels"] = shipment["parcels"]
        total = ctx.step("total", lambda a, b: a + b, shipment["parcels"], 10)
        ctx["total"] = total

    return wf


def test_a_typed_signal_payload_arrives_as_that_type(sqlite_host: Host) -> None:
    host = sqlite_host
    host.add_workflow(typed())
    eid = host.client.schedule("local::typed", {}, id="typed-1")
    host.client.signal(eid, "approval", {"approved": True, "approver": "ada"})
    host.client.signal(eid, "shipment", {"carrier": "post", "parcels": "3"})
    st = host.wait(eid, timeout=20)
    assert st["status"] == "succeeded", st["error"]
    out = st["output"]
    assert (out["kind"], out["approved"], out["approver"]) == ("Approval", True, "ada")
    assert (out["parcels"], out["total"]) == (3, 13)  # "3" was converted to the declared int


def test_a_payload_that_does_not_fit_fails_the_task_naming_the_field(sqlite_host: Host) -> None:
    host = sqlite_host
    host.add_workflow(typed())
    eid = host.client.schedule("local::typed", {}, id="typed-2")
    host.client.signal(eid, "approval", {"approved": "perhaps"})
    st = host.wait(eid, timeout=20)
    assert st["status"] == "failed"
    error = st["tasks"][0]["error"]
    assert error.startswith("InvalidPayload: task 'approve': signal 'approval': payload does not fit Approval")
    assert "approved:" in error and "approver: Field required" in error


def test_an_author_can_catch_a_payload_that_does_not_fit(sqlite_host: Host) -> None:
    host = sqlite_host
    wf = Workflow("lenient")

    @wf.task()
    def take(ctx: Context) -> None:
        try:
            ctx.wait_for_signal("approval", type=Approval)
        except InvalidPayload:
            ctx["rejected"] = True

    host.add_workflow(wf)
    eid = host.client.schedule("local::lenient", {}, id="lenient-1")
    host.client.signal(eid, "approval", [1, 2])
    st = host.wait(eid, timeout=20)
    assert st["status"] == "succeeded" and st["output"] == {"rejected": True}


def test_wait_any_names_the_winner_by_the_key_given(sqlite_host: Host) -> None:
    host = sqlite_host
    wf = Workflow("named")

    @wf.task()
    def decide(ctx: Context) -> None:
        first = ctx.wait_any({"expired": ctx.timer(3600), "approval": ctx.signal("approval")})
        ctx.update(key=first.key, index=first.index, value=first.value)

    host.add_workflow(wf)
    eid = host.client.schedule("local::named", {}, id="named-1")
    task_state(host.client, eid, "decide", "waiting")
    host.client.signal(eid, "approval", {"ok": 1})
    st = host.wait(eid, timeout=20)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"] == {"key": "approval", "index": 1, "value": {"ok": 1}}
