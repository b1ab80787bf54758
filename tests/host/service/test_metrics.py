"""Prometheus metrics at /metrics, labelled by tenant, from the work every host records."""

from __future__ import annotations

import json
import re

import httpx
from prometheus_client.parser import text_string_to_metric_families
from support.packages import REPO
from support.serving import WORKFLOW, World
from support.waiting import until


def _samples(world: World) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(world.srv.url + "/metrics").text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_executions_tasks_signals_and_waits_per_tenant(world: World) -> None:
    token = world.tenant("metered")
    with world.srv.client(token) as c:
        base = "/v1/tenants/metered/executions"
        c.post(base, json={"workflow": WORKFLOW, "input": {"cost": 5}, "id": "small"})
        c.post(base, json={"workflow": WORKFLOW, "input": {"cost": 5000}, "id": "big"})
        until(lambda: c.get(f"{base}/big").json()["status"] == "waiting", "big to wait")
        t = (("tenant", "metered"),)
        waiting = until(lambda: _samples(world).get(("wfhost_waiting_executions", t)), "the waiting gauge")
        assert waiting == 1.0
        c.post(f"{base}/big/signals", json={"name": "approval", "payload": {"approved": True}})
        until(lambda: c.get(f"{base}/big").json()["status"] == "succeeded", "big to succeed")

    def counted() -> dict | None:
        s = _samples(world)
        done = s.get(("wfhost_executions_finished_total", (("status", "succeeded"), ("tenant", "metered"))))
        return s if done == 2.0 else None

    s = until(counted, "both executions to be counted")
    assert s[("wfhost_executions_started_total", t)] == 2.0
    assert s[("wfhost_signals_delivered_total", t)] == 1.0
    # 3 tasks succeed in each (one is skipped); big's approval starts twice: before and after its wait.
    assert s[("wfhost_tasks_total", (("outcome", "succeeded"), ("tenant", "metered")))] == 6.0
    assert s[("wfhost_tasks_total", (("outcome", "started"), ("tenant", "metered")))] == 7.0
    assert s[("wfhost_task_duration_seconds_count", t)] == 7.0
    assert s[("wfhost_schedule_to_start_seconds_count", t)] == 2.0
    assert s.get(("wfhost_waiting_executions", t), 0.0) == 0.0
    assert s[("wfhost_worker_processes", t)] == 1.0


def test_the_sample_dashboard_uses_only_metrics_the_service_exports(world: World) -> None:
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    used = {re.sub(r"_(bucket|count|sum)$", "", m) for panel in dashboard["panels"] for t in panel["targets"]
            for m in re.findall(r"wfhost_\w+", t["expr"])}
    families = {f.name for f in text_string_to_metric_families(httpx.get(world.srv.url + "/metrics").text)}
    exported = families | {f + "_total" for f in families}
    assert used and used <= exported, used - exported
