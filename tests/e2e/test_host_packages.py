"""Packaged workflows through a real Host: tenants, isolation, crashes and hot swap, no restart.

Author projects are written and built here (real wheels, real signatures);
the host runs them only in worker processes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.gate import TcpGate
from support.packages import TestKey, make_key
from support.waiting import task_state

from wfhost import Host
from wfpkg.build import build_package
from wfpkg.scaffold import write_project

WORKFLOWS = '''
"""Shop {version} ({marker})."""
import importlib.metadata
import os
import socket
import time
from pathlib import Path

from wfpkg import Context, RetryPolicy, Workflow, hookimpl

order = Workflow("order")


def _me() -> dict:
    return {{"version": importlib.metadata.version("shop"), "marker": "{marker}", "pid": os.getpid()}}


@order.task()
def prepare(ctx: Context) -> None:
    ctx["prepared_by"] = _me()


@order.task(depends_on=[prepare])
def hold(ctx: Context) -> None:
    gate = ctx.get("gate")
    if gate:  # held in flight until the test opens its gate (a loopback port the policy allows)
        with socket.create_connection(("127.0.0.1", gate), timeout=30) as conn:
            if conn.recv(1) != b"1":
                raise TimeoutError("gate never opened")
    ctx["held_by"] = _me()


crashy = Workflow("crashy")


@crashy.task(retry=RetryPolicy(attempts=2, backoff=0.01))
def die_once(ctx: Context) -> None:
    if ctx.attempt == 1:
        os._exit(1)
    ctx["survived_on"] = ctx.attempt


segv = Workflow("segv")


@segv.task(retry=RetryPolicy(attempts=2, backoff=0.01))
def fault_once(ctx: Context) -> None:
    if ctx.attempt == 1:
        import ctypes

        ctypes.string_at(0)  # a segmentation fault in the worker process
    ctx["survived_on"] = ctx.attempt


parked = Workflow("parked")


@parked.task()
def park(ctx: Context) -> None:
    ctx["started_on"] = importlib.metadata.version("shop")
    ctx["payload"] = ctx.wait_for_signal("go")
    ctx["finished_on"] = importlib.metadata.version("shop")


@hookimpl
def wfhost_workflows():
    return [order, crashy, segv, parked]
'''

def build_shop(root: Path, key: TestKey, version: str, marker: str) -> Path:
    src = write_project(root / f"shop-{version}-{marker}", "shop", version=version,
                        files={"workflows.py": WORKFLOWS.format(version=version, marker=marker)})
    return build_package(src, key.private, out_dir=root / "dist" / marker)


@pytest.fixture(scope="module")
def shops(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestKey, dict[str, Path]]:
    root = tmp_path_factory.mktemp("shops")
    key = make_key(root)
    return key, {
        "acme1": build_shop(root, key, "1.0.0", "acme"),
        "acme2": build_shop(root, key, "2.0.0", "acme"),
        "globex1": build_shop(root, key, "1.0.0", "globex"),
    }


@pytest.fixture
def host(tmp_path: Path, shops: tuple[TestKey, dict[str, Path]]) -> Host:
    key, built = shops
    with Host(home=tmp_path / "home") as h:
        for tenant in ("acme", "globex"):
            h.client.create_tenant(tenant)
            h.client.trust(tenant, key.pub_path.read_text())
        h.client.register(built["acme1"], tenant="acme")
        h.client.register(built["globex1"], tenant="globex")
        yield h


@pytest.fixture
def gate(host: Host) -> Iterator[TcpGate]:
    """A loopback gate both tenants' policies allow (workers start after this)."""
    with TcpGate() as g:
        for tenant in ("acme", "globex"):
            host.registry.set_policy(tenant, allow_connect=[g.port])
        yield g


def test_hot_swap_sends_new_executions_to_v2_while_v1_finishes_on_v1(
        host: Host, shops: tuple[TestKey, dict[str, Path]], gate: TcpGate) -> None:
    _key, built = shops
    c = host.client
    inflight = c.schedule("acme::shop::order", {"gate": gate.port}, id="acme-1", tenant="acme")
    theirs = c.schedule("globex::shop::order", {"gate": gate.port}, id="globex-1", tenant="globex")
    task_state(c, inflight, "hold", "running", tenant="acme")
    task_state(c, theirs, "hold", "running", tenant="globex")

    c.register(built["acme2"], tenant="acme")  # while acme-1 is in flight on 1.0.0
    fresh = c.schedule("acme::shop::order", {}, id="acme-2", tenant="acme")
    done_fresh = host.wait(fresh, tenant="acme", timeout=60)
    assert done_fresh["status"] == "succeeded", done_fresh["error"]
    assert done_fresh["version"] == "2.0.0"
    assert done_fresh["output"]["held_by"]["version"] == "2.0.0"

    gate.open()
    old = host.wait(inflight, tenant="acme", timeout=60)
    other = host.wait(theirs, tenant="globex", timeout=60)
    assert old["status"] == "succeeded" and old["version"] == "1.0.0"
    assert old["output"]["prepared_by"]["version"] == old["output"]["held_by"]["version"] == "1.0.0"
    assert other["status"] == "succeeded"
    assert other["output"]["held_by"]["marker"] == "globex"
    # Each tenant+version ran in its own process, and never in the host's.
    pids = {old["output"]["held_by"]["pid"], done_fresh["output"]["held_by"]["pid"],
            other["output"]["held_by"]["pid"]}
    assert len(pids) == 3
    assert "shop" not in sys.modules and "shop.workflows" not in sys.modules


def test_pinned_version_runs_after_a_newer_one_is_active(
        host: Host, shops: tuple[TestKey, dict[str, Path]]) -> None:
    _key, built = shops
    host.client.register(built["acme2"], tenant="acme")
    pinned = host.client.schedule("acme::shop@1.0.0::order", {}, tenant="acme")
    state = host.wait(pinned, tenant="acme", timeout=60)
    assert state["version"] == "1.0.0" and state["output"]["held_by"]["version"] == "1.0.0"


def test_a_task_that_kills_its_worker_is_retried_and_others_keep_running(host: Host) -> None:
    c = host.client
    crash = c.schedule("acme::shop::crashy", {}, tenant="acme")
    other = c.schedule("globex::shop::order", {}, tenant="globex")
    state = host.wait(crash, tenant="acme", timeout=60)
    assert state["status"] == "succeeded", state["error"]
    assert state["output"] == {"survived_on": 2}
    retried = [e for e in c.history(crash, tenant="acme") if e["kind"] == "task_retrying"]
    assert len(retried) == 1 and "died" in retried[0]["error"]
    assert host.wait(other, tenant="globex", timeout=60)["status"] == "succeeded"


def test_a_segfault_in_a_task_kills_only_its_worker(host: Host) -> None:
    c = host.client
    fault = c.schedule("acme::shop::segv", {}, tenant="acme")
    state = host.wait(fault, tenant="acme", timeout=60)
    assert state["status"] == "succeeded", state["error"]
    assert state["output"] == {"survived_on": 2}
    [retry] = [e for e in c.history(fault, tenant="acme") if e["kind"] == "task_retrying"]
    assert "SIGSEGV" in retry["error"]
    assert host.wait(c.schedule("globex::shop::order", {}, tenant="globex"), tenant="globex",
                     timeout=60)["status"] == "succeeded"


def test_a_tenant_cannot_name_another_tenants_package(host: Host) -> None:
    from wfhost import InvalidRequest, NotFound

    with pytest.raises(InvalidRequest, match="belongs to tenant 'globex'"):
        host.client.schedule("globex::shop::order", {}, tenant="acme")
    with pytest.raises(NotFound):
        host.client.status("globex-1", tenant="acme")


def test_unregister_drains_running_executions_then_stops_the_worker(
        host: Host, gate: TcpGate) -> None:
    from support.waiting import until

    from wfhost import NotFound

    c = host.client
    running = c.schedule("acme::shop::order", {"gate": gate.port}, tenant="acme")
    task_state(c, running, "hold", "running", tenant="acme")
    [info] = [p for p in c.packages(tenant="acme") if p.name == "shop"]
    c.unregister("shop", tenant="acme")
    with pytest.raises(NotFound):  # no new executions on a retired version
        c.schedule("acme::shop::order", {}, tenant="acme")
    assert info.install_dir.exists()  # still draining
    gate.open()
    state = host.wait(running, tenant="acme", timeout=60)
    assert state["status"] == "succeeded" and state["version"] == "1.0.0"
    host.scheduler.wake()
    until(lambda: not info.install_dir.exists(), "the drained version to be removed", timeout=20)
    assert not any("acme::shop" in label for label in host.scheduler.dispatcher.live_workers())


def test_a_waiting_execution_finishes_on_its_version_across_restarts_and_upgrades(
        tmp_path: Path, shops: tuple[TestKey, dict[str, Path]]) -> None:
    key, built = shops
    home = tmp_path / "home"
    with Host(home=home) as first:
        first.client.create_tenant("acme")
        first.client.trust("acme", key.pub_path.read_text())
        first.client.register(built["acme1"], tenant="acme")
        eid = first.client.schedule("acme::shop::parked", {}, id="parked-1", tenant="acme")
        task_state(first.client, eid, "park", "waiting", tenant="acme")
    with Host(home=home) as second:  # a restart, then an upgrade while it waits
        second.client.register(built["acme2"], tenant="acme")
        second.client.signal(eid, "go", {"ok": True}, tenant="acme")
        state = second.wait(eid, tenant="acme", timeout=60)
        newer = second.client.schedule("acme::shop::parked", {}, tenant="acme")
        assert second.client.status(newer, tenant="acme")["version"] == "2.0.0"
    assert state["status"] == "succeeded", state["error"]
    assert state["version"] == "1.0.0"
    assert state["output"] == {"started_on": "1.0.0", "payload": {"ok": True}, "finished_on": "1.0.0"}
