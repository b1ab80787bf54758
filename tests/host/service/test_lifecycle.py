"""purchase_approval over real HTTP: upload, schedule, watch the stream reach the wait, signal, finish."""

from __future__ import annotations

import httpx
import pytest
from support.serving import WORKFLOW, World, sse_events, upload
from support.waiting import until

from wfhost import Client, Conflict, NotFound, RemoteClient


def test_purchase_approval_lifecycle_over_http(world: World) -> None:
    token = world.tenant("acme")
    with world.srv.client(token) as c:
        again = upload(c, "acme", world.archives["purchase_approval"], expect=200).json()
        assert (again["tenant"], again["package"], again["version"], again["active"]) == \
            ("acme", "purchase_approval", "1.0.0", True)
        order = {"order_id": "o-1", "cost": 600, "quantity": 2}
        r = c.post("/v1/tenants/acme/executions", json={"workflow": WORKFLOW, "input": order, "id": "order-1"})
        assert r.status_code == 201, r.text
        assert r.json()["id"] == "order-1" and r.json()["created_at"].endswith("Z")
        same = c.post("/v1/tenants/acme/executions", json={"workflow": WORKFLOW, "input": order, "id": "order-1"})
        assert same.status_code == 200 and same.json()["id"] == "order-1"
        other = c.post("/v1/tenants/acme/executions",
                       json={"workflow": WORKFLOW, "input": {**order, "cost": 601}, "id": "order-1"})
        assert other.status_code == 409 and other.json()["code"] == "conflict"
        assert other.headers["content-type"] == "application/problem+json"

        seen: list[str] = []
        with httpx.Client(base_url=world.srv.url, headers={"Authorization": f"Bearer {token}"},
                          timeout=60) as streamer, \
                streamer.stream("GET", "/v1/tenants/acme/executions/order-1/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            signalled = False
            for event, data in sse_events(stream):
                seen.append(event)
                if event == "status" and not signalled:
                    approval = next(t for t in data["tasks"] if t["task"] == "approval")
                    if approval["state"] == "waiting":
                        assert "signal 'approval'" in approval["waiting_for"]
                        r = c.post("/v1/tenants/acme/executions/order-1/signals",
                                   json={"name": "approval", "payload": {"approved": True, "approver": "ada"}})
                        assert r.status_code == 202, r.text
                        signalled = True
                if event == "end":
                    assert data == {"id": "order-1", "status": "succeeded"}
                    break
        assert signalled and "history" in seen

        st = c.get("/v1/tenants/acme/executions/order-1").json()
        assert st["status"] == "succeeded"
        assert (st["output"]["decision"], st["output"]["approver"]) == ("approved", "ada")
        kinds = [e["kind"] for e in c.get("/v1/tenants/acme/executions/order-1/history").json()]
        assert "signal_received" in kinds and kinds[-1] == "execution_succeeded"
        page = c.get("/v1/tenants/acme/executions", params={"status": "succeeded"}).json()
        assert [i["id"] for i in page["items"]] == ["order-1"] and page["next_cursor"] is None

        late = c.post("/v1/tenants/acme/executions/order-1/signals", json={"name": "approval", "payload": {}})
        assert late.status_code == 409
        assert c.post("/v1/tenants/acme/executions/order-1/cancel", json={}).status_code == 409
        assert c.get("/v1/tenants/acme/executions/nope").status_code == 404
        bad = c.post("/v1/tenants/acme/executions", json={"workflow": WORKFLOW, "input": [1]})
        assert bad.status_code == 422 and bad.json()["code"] == "validation_error"


def test_listing_pages_with_an_opaque_cursor(world: World) -> None:
    token = world.tenant("pager", packages=("data_processing",))
    with world.srv.client(token) as c:
        ids = []
        for i in range(5):
            r = c.post("/v1/tenants/pager/executions",
                       json={"workflow": "data_processing::data_processing", "input": {"n": i}, "id": f"run-{i}"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        got, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = c.get("/v1/tenants/pager/executions", params=params).json()
            got += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(got) == sorted(ids) and len(got) == 5
        assert c.get("/v1/tenants/pager/executions", params={"cursor": "!!"}).status_code == 422


def test_cancel_then_retry_over_http_runs_it_again_from_its_cancelled_task(world: World) -> None:
    token = world.tenant("retrier")
    with world.srv.client(token) as c:
        base = "/v1/tenants/retrier/executions"
        assert c.post(base, json={"workflow": WORKFLOW, "input": {"cost": 5000}, "id": "o-9"}).status_code == 201
        until(lambda: c.get(f"{base}/o-9").json()["status"] == "waiting", "o-9 to wait")
        assert c.post(f"{base}/o-9/retry").status_code == 409  # still running: nothing to retry
        assert c.post(f"{base}/o-9/cancel", json={"reason": "wrong supplier"}).status_code == 202
        until(lambda: c.get(f"{base}/o-9").json()["status"] == "cancelled", "o-9 to be cancelled")
        r = c.post(f"{base}/o-9/retry")
        assert r.status_code == 202 and "approval" in r.json()["tasks"]
        assert "check_order" not in r.json()["tasks"]  # its recorded success is kept
        until(lambda: c.get(f"{base}/o-9").json()["status"] == "waiting", "o-9 to wait again")
        c.post(f"{base}/o-9/signals", json={"name": "approval", "payload": {"approved": True}})
        until(lambda: c.get(f"{base}/o-9").json()["status"] == "succeeded", "o-9 to succeed")
        kinds = [(e["kind"], e.get("by")) for e in c.get(f"{base}/o-9/history").json()]
        assert ("execution_retried", "api:retrier") in kinds


def test_health_openapi_and_docs_are_served_without_a_token(world: World) -> None:
    with httpx.Client(base_url=world.srv.url, timeout=30) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        doc = c.get("/openapi.json").json()
        assert "/v1/tenants/{tenant}/executions/{execution_id}/retry" in doc["paths"]
        assert doc["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
        docs = c.get("/docs")
        assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
        missing = c.get("/v1/nothing")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_the_python_client_waits_on_the_event_stream(world: World) -> None:
    token = world.tenant("waiter")
    with Client.connect(world.srv.url, token) as client:
        assert isinstance(client, RemoteClient) and client.tenant == "waiter"
        eid = client.schedule(WORKFLOW, {"cost": 5000})
        with pytest.raises(TimeoutError, match="still"):
            client.wait(eid, timeout=0.5)
        client.signal(eid, "approval", {"approved": False, "reason": "no"})
        done = client.wait(eid, timeout=60)
        assert done["status"] == "succeeded" and done["output"]["decision"] == "rejected"
        assert isinstance(done["created_at"], float)  # Client's shapes: UNIX seconds
        with pytest.raises(NotFound):
            client.wait("nope")
        with pytest.raises(Conflict):
            client.signal(eid, "approval", {})
