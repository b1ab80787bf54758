"""The API the dashboard reads: the list's retrying/root filters and child counts, /overview,
package DAGs, and the dashboard's own files at ``/``."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from support.serving import served
from support.waiting import until

from wfhost import Host
from wfpkg import Context, RetryPolicy, Workflow


def _workflows() -> list[Workflow]:
    flaky = Workflow("flaky")

    @flaky.task(retry=RetryPolicy(attempts=3, backoff=600, jitter=0.0))  # the retry waits: long enough to see
    def fetch(ctx: Context) -> None:
        if ctx.get("fail"):
            raise RuntimeError("upstream down")

    parent = Workflow("parent")

    @parent.task
    def fan_out(ctx: Context) -> None:
        for n in range(2):
            ctx.start_child("local::flaky", {}, id=f"{ctx.execution_id}.kid{n}")

    return [flaky, parent]


def test_list_filters_retrying_and_roots_and_counts_children(host: Host) -> None:
    host.client.create_tenant("ops")
    for wf in _workflows():
        host.add_workflow(wf, tenant="ops")
    with served(host) as srv, srv.client(srv.service.tokens.create("ops")[1]) as c:
        base = "/v1/tenants/ops/executions"
        for eid, body in (("bad", {"fail": True}), ("good", {})):
            assert c.post(base, json={"workflow": "local::flaky", "input": body, "id": eid}).status_code == 201
        assert c.post(base, json={"workflow": "local::parent", "id": "p"}).status_code == 201
        until(lambda: c.get(f"{base}/bad").json()["tasks"][0]["error"], "bad to fail its first attempt")
        until(lambda: c.get(f"{base}/p").json()["status"] == "succeeded", "the parent to finish")

        retrying = c.get(base, params={"retrying": "true"}).json()["items"]
        assert [r["id"] for r in retrying] == ["bad"]
        roots = c.get(base, params={"root": "true"}).json()["items"]
        assert sorted(r["id"] for r in roots) == ["bad", "good", "p"]
        assert {r["id"]: r["children"] for r in roots} == {"bad": 0, "good": 0, "p": 2}
        kids = c.get(base, params={"parent": "p"}).json()["items"]
        assert sorted(k["id"] for k in kids) == ["p.kid0", "p.kid1"] and all(k["child"] for k in kids)


def test_overview_counts_the_last_hour_and_quota_in_use(host: Host) -> None:
    host.client.create_tenant("ops")
    host.client.create_tenant("rival")
    for wf in _workflows():
        host.add_workflow(wf, tenant="ops")
        host.add_workflow(wf, tenant="rival")
    with served(host) as srv, srv.client(srv.service.tokens.create("ops")[1]) as c:
        c.post("/v1/tenants/ops/executions", json={"workflow": "local::flaky", "id": "a"})
        c.post("/v1/tenants/ops/executions", json={"workflow": "local::flaky", "input": {"fail": True}, "id": "b"})
        host.client.schedule("local::flaky", {}, id="theirs", tenant="rival")
        until(lambda: c.get("/v1/tenants/ops/executions/a").json()["status"] == "succeeded", "a to finish")
        until(lambda: c.get("/v1/tenants/ops/executions/b").json()["tasks"][0]["error"], "b to fail once")
        o: dict[str, Any] = c.get("/v1/tenants/ops/overview").json()
        assert o["last_hour"]["succeeded"] == 1  # not the other tenant's
        assert o["running"] == 1 and o["waiting"] == 0
        assert len(o["throughput"]) == 60 and sum(b["finished"] for b in o["throughput"]) == 1
        assert [s["workflow"] for s in o["slowest"]] == ["local::flaky"] and o["slowest"][0]["finished"] == 1
        assert o["quota"]["limits"]["concurrent_tasks"] >= 1
        assert set(o["quota"]["in_use"]) == {"concurrent_tasks", "waiting_executions"}
        assert c.get("/v1/tenants/rival/overview").status_code == 404


def test_the_dashboard_is_served_at_the_root(host: Host) -> None:
    with served(host) as srv, srv.client(None) as anonymous:
        page = anonymous.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "Content-Security-Policy" in page.text and 'src="app.js"' in page.text
        script = anonymous.get("/app.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert anonymous.get("/vendor/cytoscape.min.js").status_code == 200
        assert anonymous.get("/v1/tenants/x/executions").status_code == 401  # the API still wants a token
        assert anonymous.get("/no-such-file.js").status_code == 404


def test_the_vendored_files_match_their_pinned_sums() -> None:
    repo = Path(__file__).resolve().parents[3]
    done = subprocess.run([str(repo / "scripts" / "vendor-frontend.sh"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    index = (repo / "host/wfhost/service/static/index.html").read_text()
    for name in ("cytoscape.min.js", "dagre.min.js", "cytoscape-dagre.js", "chart.umd.js"):
        assert f'src="vendor/{name}"' in index and f"  {name}\n" in (
            repo / "host/wfhost/service/static/vendor/SHA256SUMS").read_text()
