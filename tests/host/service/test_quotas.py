"""Quotas: one tenant driven over its concurrency, rate and size quotas gets 429/413; another runs on."""

from __future__ import annotations

import threading

import httpx
from support.serving import World, upload
from support.waiting import until

from wfpkg import Context, Workflow


def _start(c: httpx.Client, tenant: str, workflow: str) -> httpx.Response:
    return c.post(f"/v1/tenants/{tenant}/executions", json={"workflow": workflow, "input": {}})


def _status(c: httpx.Client, tenant: str, eid: str) -> str:
    return str(c.get(f"/v1/tenants/{tenant}/executions/{eid}").json()["status"])


def test_a_tenant_over_its_quotas_is_refused_while_another_runs_unaffected(world: World) -> None:
    release = threading.Event()
    hold, quick = Workflow("hold"), Workflow("quick")

    @hold.task
    def block(ctx: Context) -> None:
        release.wait(60)

    @quick.task
    def run(ctx: Context) -> None:
        ctx["ran"] = True

    host = world.srv.service.host
    busy, calm = world.tenant("busy", packages=()), world.tenant("calm", packages=())
    for tenant in ("busy", "calm"):
        host.add_workflow(hold, tenant=tenant)
        host.add_workflow(quick, tenant=tenant)
    with world.srv.client(world.admin) as admin:
        r = admin.put("/v1/tenants/busy/quotas", json={"concurrent_tasks": 2, "starts_per_minute": 5,
                                                       "signal_bytes": 64, "package_bytes": 1000})
        assert r.status_code == 200 and r.json()["concurrent_tasks"] == 2 and r.json()["uploads_per_hour"] == 60
        assert admin.get("/v1/tenants/calm/quotas").json()["concurrent_tasks"] == 64  # the default

    with world.srv.client(busy) as b, world.srv.client(calm) as c:
        try:
            held = [_start(b, "busy", "local::hold").json()["id"] for _ in range(2)]
            until(lambda: all(_status(b, "busy", e) == "running" for e in held), "busy's tasks to run")
            over = _start(b, "busy", "local::quick")
            assert over.status_code == 429 and over.json()["code"] == "quota_exceeded"
            assert "concurrent_tasks" in over.json()["detail"] and int(over.headers["retry-after"]) >= 1
            # The other tenant runs as if nothing happened, while busy's tasks still block.
            mine = [_start(c, "calm", "local::quick") for _ in range(6)]
            assert [r.status_code for r in mine] == [201] * 6
            until(lambda: all(_status(c, "calm", r.json()["id"]) == "succeeded" for r in mine), "calm's runs")
        finally:
            release.set()
        until(lambda: all(_status(b, "busy", e) == "succeeded" for e in held), "busy's tasks to finish")

        # Rate: 2 started already; 3 more fit in the minute, the next does not.
        assert [_start(b, "busy", "local::quick").status_code for _ in range(4)] == [201, 201, 201, 429]
        rate = _start(b, "busy", "local::quick")
        assert "starts_per_minute" in rate.json()["detail"] and 1 <= int(rate.headers["retry-after"]) <= 60
        assert _start(c, "calm", "local::quick").status_code == 201

        # Sizes: a signal payload and a package over the tenant's limit.
        big = b.post(f"/v1/tenants/busy/executions/{held[0]}/signals", json={"name": "x", "payload": "y" * 100})
        assert big.status_code == 413 and big.json()["code"] == "too_large"
        r = upload(b, "busy", world.archives["data_processing"], expect=413)
        assert "package" in r.json()["detail"]
        assert b.get("/v1/tenants/busy/packages").json() == []

    metrics = httpx.get(world.srv.url + "/metrics").text
    assert 'wfhost_quota_rejections_total{quota="concurrent_tasks",tenant="busy"} 1.0' in metrics
    assert 'wfhost_quota_rejections_total{quota="starts_per_minute",tenant="busy"} 2.0' in metrics
    assert 'tenant="calm"' not in "".join(m for m in metrics.splitlines() if "quota_rejections" in m)


def test_uploads_per_hour(world: World) -> None:
    token = world.tenant("uploader", packages=())
    with world.srv.client(world.admin) as admin:
        assert admin.put("/v1/tenants/uploader/quotas", json={"uploads_per_hour": 1}).status_code == 200
    with world.srv.client(token) as c:
        upload(c, "uploader", world.archives["data_processing"], expect=201)
        r = upload(c, "uploader", world.archives["data_processing"], expect=429)
        assert "uploads_per_hour" in r.json()["detail"] and int(r.headers["retry-after"]) > 60


def test_waiting_executions_quota(world: World) -> None:
    waiter = Workflow("waiter")

    @waiter.task
    def park(ctx: Context) -> None:
        ctx["go"] = ctx.wait_for_signal("go")

    token = world.tenant("parker", packages=())
    world.srv.service.host.add_workflow(waiter, tenant="parker")
    with world.srv.client(world.admin) as admin:
        assert admin.put("/v1/tenants/parker/quotas", json={"waiting_executions": 1}).status_code == 200
    with world.srv.client(token) as c:
        first = _start(c, "parker", "local::waiter").json()["id"]
        until(lambda: _status(c, "parker", first) == "waiting", "the first to wait")
        over = _start(c, "parker", "local::waiter")
        assert over.status_code == 429 and "waiting_executions" in over.json()["detail"]
        c.post(f"/v1/tenants/parker/executions/{first}/signals", json={"name": "go", "payload": 1})
        until(lambda: _status(c, "parker", first) == "succeeded", "the first to finish")
        assert _start(c, "parker", "local::waiter").status_code == 201
