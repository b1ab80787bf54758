"""The walls' tenant policy over HTTP (admin only): what `wfhost tenant policy` sets."""

from __future__ import annotations

from support.serving import World


def test_an_admin_sets_and_reads_a_tenants_policy_and_bad_values_change_nothing(world: World) -> None:
    world.tenant("walled", packages=())
    with world.srv.client(world.admin) as admin:
        before = admin.get("/v1/tenants/walled/policy").json()
        assert before["allow_connect"] == [] and before["tenant"] == "walled"
        r = admin.put("/v1/tenants/walled/policy", json={"allow_connect": [5432, 8080], "max_procs": 16,
                                                         "env": {"REGION": "eu"}, "cpu_seconds": -1})
        assert r.status_code == 200, r.text
        changed = r.json()
        assert changed["allow_connect"] == [5432, 8080] and changed["max_procs"] == 16
        assert changed["env"] == {"REGION": "eu"} and changed["cpu_seconds"] is None  # -1: unlimited
        assert changed["memory"] == before["memory"]  # left out: kept
        assert admin.get("/v1/tenants/walled/policy").json() == changed
        bad = admin.put("/v1/tenants/walled/policy", json={"max_procs": -5})
        assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
        assert admin.put("/v1/tenants/nosuch/policy", json={"max_procs": 1}).status_code == 404
        assert admin.get("/v1/tenants/walled/policy").json() == changed
