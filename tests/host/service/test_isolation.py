"""Tenant walls of the API: every route is enumerated from the OpenAPI document, so none can skip them.

With tenant A's token, every tenant route called with B's tenant, or with A's
tenant and B's ids, answers 404 exactly as for a tenant or id that does not
exist, and B's state does not change; admin routes answer 403; bad, missing,
revoked tokens and a deleted tenant's token answer 401.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from support.serving import WORKFLOW, World, bearer
from support.waiting import until

# A plausible body for each route that takes one: a refusal must not be a validation error.
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/v1/tenants/{tenant}/executions"): {"workflow": WORKFLOW, "input": {"cost": 1}},
    ("post", "/v1/tenants/{tenant}/executions/{execution_id}/signals"): {"name": "approval", "payload": {}},
    ("post", "/v1/tenants/{tenant}/executions/{execution_id}/cancel"): {"reason": "x"},
    ("post", "/v1/tenants/{tenant}/executions:cancel"): {"status": "active"},
    ("post", "/v1/tenants/{tenant}/packages/{package}/activate"): {"version": "1.0.0"},
    ("post", "/v1/tenants"): {"name": "intruder"},
    ("post", "/v1/tenants/{tenant}/keys"): {"public_key": "x"},
    ("post", "/v1/tenants/{tenant}/tokens"): {"label": "x"},
    ("put", "/v1/tenants/{tenant}/quotas"): {"starts_per_minute": 1},
    ("put", "/v1/tenants/{tenant}/policy"): {"max_procs": 8},
    ("post", "/v1/tenants/{tenant}/schedules"): {"name": "intruder", "workflow": WORKFLOW, "cron": "0 0 1 1 *"},
}
UNAUTHENTICATED = {"/healthz", "/metrics"}
ABOUT_THE_CALLER = {"/v1/whoami"}  # names no tenant and no id: it reports the token's own


def _routes(c: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    doc = c.get("/openapi.json").json()
    return [(method, path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def _call(c: httpx.Client, method: str, path: str, world: World, **params: str) -> httpx.Response:
    url = re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)
    if path.endswith("/packages") and method == "post":
        archive = world.archives["purchase_approval"]
        with archive.open("rb") as f:
            return c.post(url, files={"archive": (archive.name, f, "application/zip")})
    return c.request(method, url, json=BODIES.get((method, path)))


def _state(c: httpx.Client, tenant: str) -> Any:
    execs = c.get(f"/v1/tenants/{tenant}/executions").json()["items"]
    return (execs, c.get(f"/v1/tenants/{tenant}/packages").json(),
            [c.get(f"/v1/tenants/{tenant}/executions/{e['id']}/history").json() for e in execs],
            c.get(f"/v1/tenants/{tenant}/schedules").json())


@pytest.fixture(scope="module")
def tenants(world: World) -> tuple[str, str]:
    a = world.tenant("alpha")
    b = world.tenant("beta", packages=("purchase_approval", "data_processing"))
    with world.srv.client(b) as c:
        r = c.post("/v1/tenants/beta/schedules", json={"name": "nightly", "workflow": WORKFLOW,
                                                      "cron": "0 3 * * *", "input": {"cost": 1}})
        assert r.status_code == 201, r.text
        for eid, cost, settled in (("beta-waits", 5000, "waiting"), ("beta-done", 1, "succeeded")):
            r = c.post("/v1/tenants/beta/executions", json={"workflow": WORKFLOW, "input": {"cost": cost},
                                                            "id": eid})
            assert r.status_code == 201, r.text
            until(lambda eid=eid, settled=settled: c.get(f"/v1/tenants/beta/executions/{eid}").json()["status"]
                  == settled, f"{eid} to be {settled}")
    return a, b


def test_every_tenant_route_hides_other_tenants_and_their_ids(world: World, tenants: tuple[str, str]) -> None:
    a, b = tenants
    checked = []
    with world.srv.client(a) as ca, world.srv.client(b) as cb:
        before = _state(cb, "beta")
        for method, path, op in _routes(ca):
            if path in UNAUTHENTICATED or path in ABOUT_THE_CALLER:
                continue
            if "admin" in op.get("tags", []):
                r = _call(ca, method, path, world, tenant="beta", execution_id="beta-waits",
                          package="data_processing", key_id="k", token_id="t")
                assert r.status_code == 403, (method, path, r.text)
                checked.append((method, path))
                continue
            assert "{tenant}" in path, f"{method} {path}: a tenant route outside /v1/tenants/{{tenant}}"
            ids = {"execution_id": "beta-waits", "package": "data_processing", "name": "nightly"}
            theirs = _call(ca, method, path, world, tenant="beta", **ids)
            nobody = _call(ca, method, path, world, tenant="nosuch", **ids)
            assert theirs.status_code == nobody.status_code == 404, (method, path, theirs.text)
            assert theirs.json()["detail"].replace("beta", "nosuch") == nobody.json()["detail"]
            assert theirs.json()["code"] == "not_found"
            if any(f"{{{p}}}" in path for p in ids):
                mine = _call(ca, method, path, world, tenant="alpha", **ids)
                assert mine.status_code == 404, (method, path, mine.text)
            checked.append((method, path))
        bulk = ca.post("/v1/tenants/alpha/executions:cancel", json={"ids": ["beta-waits"]})
        assert bulk.json()["results"] == [{"id": "beta-waits", "result": "not_found"}]
        assert _state(cb, "beta") == before
    assert len(checked) >= 20, checked


def test_bad_missing_revoked_and_deleted_tenant_tokens_answer_401(world: World, tenants: tuple[str, str]) -> None:
    a, _ = tenants
    url = "/v1/tenants/alpha/executions"
    with httpx.Client(base_url=world.srv.url, timeout=30) as c:
        assert c.get(url).status_code == 401
        assert c.get(url, headers=bearer("wfh_000000000000_nope")).status_code == 401
        assert c.get(url, headers={"Authorization": f"Basic {a}"}).status_code == 401
        assert c.get(url, headers=bearer(a[:-1] + ("A" if a[-1] != "A" else "B"))).status_code == 401
        r = c.get(url, headers=bearer("garbage"))
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["code"] == "unauthorized"
        assert c.get(url, headers=bearer(a)).status_code == 200

        admin = bearer(world.admin)
        made = c.post("/v1/tenants/alpha/tokens", json={"label": "short-lived"}, headers=admin).json()
        assert c.get(url, headers=bearer(made["token"])).status_code == 200
        assert c.delete(f"/v1/tokens/{made['id']}", headers=admin).status_code == 204
        assert c.get(url, headers=bearer(made["token"])).status_code == 401

        gamma = world.tenant("gamma", packages=())
        assert c.get("/v1/tenants/gamma/executions", headers=bearer(gamma)).status_code == 200
        assert c.delete("/v1/tenants/gamma", headers=admin).status_code == 204
        assert c.get("/v1/tenants/gamma/executions", headers=bearer(gamma)).status_code == 401
        assert c.get("/v1/tenants/gamma/executions", headers=admin).status_code == 404
