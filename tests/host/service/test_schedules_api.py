"""Cron schedules over HTTP: the same operations as `wfhost schedules`, with the API's errors."""

from __future__ import annotations

from support.serving import WORKFLOW, World
from support.waiting import until


def test_schedules_over_http_add_list_pause_resume_trigger_delete(world: World) -> None:
    token = world.tenant("cronned")
    base = "/v1/tenants/cronned/schedules"
    with world.srv.client(token) as c:
        r = c.post(base, json={"name": "nightly", "workflow": WORKFLOW, "cron": "30 2 * * *",
                               "timezone": "Europe/Berlin", "input": {"cost": 1}, "catchup": "one",
                               "overlap": "skip"})
        assert r.status_code == 201, r.text
        made = r.json()
        assert (made["name"], made["cron"], made["timezone"], made["catchup"], made["overlap"]) == \
            ("nightly", "30 2 * * *", "Europe/Berlin", "one", "skip")
        assert made["next_tick_at"].endswith("Z") and made["paused"] is False and made["runs"] == []
        assert [s["name"] for s in c.get(base).json()] == ["nightly"]
        assert c.post(f"{base}/nightly/pause").json()["paused"] is True
        assert c.post(f"{base}/nightly/resume").json()["paused"] is False
        started = c.post(f"{base}/nightly/trigger")
        assert started.status_code == 201
        eid = started.json()["id"]
        assert eid.startswith("nightly-")
        until(lambda: c.get(f"/v1/tenants/cronned/executions/{eid}").json()["status"] == "succeeded",
              "the triggered run to finish")
        runs = c.get(f"{base}/nightly").json()["runs"]
        assert [(r["outcome"], r["execution_id"]) for r in runs] == [("started", eid)]
        assert c.delete(f"{base}/nightly").status_code == 204
        assert c.get(base).json() == []
        assert c.get(f"/v1/tenants/cronned/executions/{eid}").status_code == 200  # its run stays


def test_bad_schedules_are_problems_and_change_nothing(world: World) -> None:
    token = world.tenant("cronbad")
    base = "/v1/tenants/cronbad/schedules"
    with world.srv.client(token) as c:
        bad_cron = c.post(base, json={"name": "x", "workflow": WORKFLOW, "cron": "61 * * * *"})
        assert bad_cron.status_code == 422 and bad_cron.json()["code"] == "invalid_request"
        assert "bad cron expression '61 * * * *': Bad minute" in bad_cron.json()["detail"]
        bad_zone = c.post(base, json={"name": "x", "workflow": WORKFLOW, "cron": "* * * * *",
                                      "timezone": "Mars/Olympus"})
        assert bad_zone.status_code == 422 and "unknown time zone 'Mars/Olympus'" in bad_zone.json()["detail"]
        unknown = c.post(base, json={"name": "x", "workflow": "nope::nothing", "cron": "* * * * *"})
        assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
        assert c.get(base).json() == []
        assert c.post(base, json={"name": "once", "workflow": WORKFLOW, "cron": "0 0 * * *"}).status_code == 201
        taken = c.post(base, json={"name": "once", "workflow": WORKFLOW, "cron": "0 1 * * *"})
        assert taken.status_code == 409 and taken.json()["code"] == "conflict"
        assert c.post(f"{base}/ghost/pause").status_code == 404
        assert [s["cron"] for s in c.get(base).json()] == ["0 0 * * *"]
