"""The attack suite: a hostile tenant's package tries every way out of its worker.

The hostile package (`support.hostile`) is built, signed and registered like
any other, for tenant ``ta``, and run by a real strict host, on SQLite and on
PostgreSQL, while tenant ``tb``'s executions run: one attempt in flight the
whole time, one execution waiting for a signal. Each attack must fail inside
its task with the error its wall gives; afterwards ``tb``'s executions finish
untouched, and the rows an attack would change (tenants, keys, versions,
``tb``'s signals) are as they were. An attack that got through would make its
task succeed, and the test fail.

The same attacks at import time (named by ``$WFHOST_ATTACK``, set through the
tenant's policy env) make registration fail, leaving no row and no directory.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support.databases import postgres_database
from support.gate import TcpGate
from support.hostile import ATTACKS, IMPORT_ATTACKS, build_hostile, build_victim
from support.packages import TestKey, make_key
from support.waiting import task_state

from wfhost import Host
from wfregistry import LoadError

SECRET = "WFHOST_ATTACK_SECRET"
HOSTILE_LIMITS = {"memory": 1024**3, "cpu_seconds": 2, "max_procs": 64, "file_size": 1024**2}


@dataclass
class Scene:
    host: Host
    key: TestKey
    hostile: Path
    args: dict[str, Any]
    held: str
    parked: str
    gate: TcpGate


def _store_rows(host: Host) -> dict[str, list[tuple[Any, ...]]]:
    with host.engine.connect() as conn:
        return {table: sorted(tuple(r) for r in conn.execute(sa.text(query)))
                for table, query in {
                    "tenants": "SELECT name FROM tenants",
                    "trusted_keys": "SELECT tenant, key_id, revoked_at FROM trusted_keys",
                    "package_versions": "SELECT tenant, name, version, state FROM package_versions",
                    "tb_signals": "SELECT e.id, s.name FROM signals s JOIN executions e "
                                  "ON e.uid = s.execution_uid WHERE e.tenant = 'tb'",
                }.items()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestKey, Path, Path]:
    root = tmp_path_factory.mktemp("attack-packages")
    key = make_key(root, "attacker")
    return key, build_hostile(root, key), build_victim(root, key)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def scene(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          built: tuple[TestKey, Path, Path]) -> Iterator[Scene]:
    key, hostile, victim = built
    tmp = tmp_path_factory.mktemp(f"attacks-{request.param}")
    with pytest.MonkeyPatch.context() as mp, TcpGate() as gate:
        mp.setenv(SECRET, "the operator's secret")  # exported in the host's environment
        with (postgres_database() if request.param == "postgresql" else _no_database()) as url, \
                Host(home=tmp / "home", database_url=url, max_concurrency=4) as host:
            c = host.client
            for tenant in ("ta", "tb"):
                c.create_tenant(tenant)
                c.trust(tenant, key.pub_path.read_text(), label=f"{tenant} ci")
            host.registry.set_policy("ta", **HOSTILE_LIMITS)
            host.registry.set_policy("tb", allow_connect=[gate.port])
            c.register(hostile, tenant="ta")
            victim_info = c.register(victim, tenant="tb")
            held = c.schedule("tb::victim::work", {"gate": gate.port}, id="tb-held", tenant="tb")
            parked = c.schedule("tb::victim::parked", {}, id="tb-parked", tenant="tb")
            task_state(c, held, "hold", "running", tenant="tb", timeout=60)
            task_state(c, parked, "park", "waiting", tenant="tb", timeout=60)
            args = {"home": str(host.home), "store": str(host.home / "wfhost.db"), "url": url,
                    "logs": str(host.home / "logs"), "run_root": str(host.home / "run"),
                    "other_install": str(victim_info.install_dir), "key": str(key.path),
                    "host_pid": os.getpid(), "victim": parked}
            yield Scene(host, key, hostile, args, held, parked, gate)
            # The other tenant carried on: its held attempt finishes, its waiting one gets the real signal.
            before = _store_rows(host)
            gate.open()
            c.signal(parked, "go", {"real": True}, tenant="tb")
            assert host.wait(held, tenant="tb", timeout=60)["status"] == "succeeded"
            done = host.wait(parked, tenant="tb", timeout=60)
            assert done["status"] == "succeeded" and done["output"]["payload"] == {"real": True}
            assert _store_rows(host)["tb_signals"] == before["tb_signals"] + [("tb-parked", "go")]


class _no_database:  # noqa: N801 - reads as a context manager, like postgres_database
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _other_run(host: Host, tenant: str) -> str:
    """The run id of an attempt the host gave another tenant's worker (in flight now)."""
    return host.scheduler.inflight.of_tenant(tenant)[0].run_id


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_from_a_task_fails_inside_the_task(scene: Scene, attack: str) -> None:
    host, c = scene.host, scene.host.client
    before = _store_rows(host)
    args = dict(scene.args)
    if attack == "forge_frame":
        args["other_run"] = _other_run(host, "tb")
    eid = c.schedule("ta::hostile::attacks", {"attack": attack, "args": args}, tenant="ta")
    state = host.wait(eid, tenant="ta", timeout=90)
    assert state["status"] == "failed", f"{attack} got through: {state['output']}"
    assert re.search(ATTACKS[attack], state["error"] or ""), state["error"]
    # The host and the other tenant carry on; nothing an attack could touch changed.
    assert host.client.status(scene.held, tenant="tb")["status"] == "running"
    assert host.client.status(scene.parked, tenant="tb")["status"] == "waiting"
    assert _store_rows(host) == before
    assert "hostile" not in sys.modules


@pytest.mark.parametrize("attack", sorted(IMPORT_ATTACKS))
def test_an_attack_at_import_time_fails_the_registration(scene: Scene, attack: str) -> None:
    host, c = scene.host, scene.host.client
    tenant = "tc"
    if tenant not in c.registry.tenants():
        c.create_tenant(tenant)
        c.trust(tenant, scene.key.pub_path.read_text())
    args = {**scene.args, "other_run": "an-attempt-of-another-worker"}
    runs_before = sorted((host.home / "run").iterdir())
    host.registry.set_policy(tenant, reset=True, **HOSTILE_LIMITS,
                             env={"WFHOST_ATTACK": attack, "WFHOST_ATTACK_ARGS": json.dumps(args)})
    before = _store_rows(host)
    with pytest.raises(LoadError) as caught:
        c.register(scene.hostile, tenant=tenant)
    assert re.search(IMPORT_ATTACKS[attack], str(caught.value)), str(caught.value)
    assert str(caught.value).startswith("cannot load tc::hostile@1.0.0")
    assert _store_rows(host) == before
    assert not (host.home / "packages" / tenant).exists()
    assert list((host.home / "packages" / ".staging").iterdir()) == []
    assert sorted((host.home / "run").iterdir()) == runs_before  # the trial's run dir is gone
    assert host.client.status(scene.held, tenant="tb")["status"] == "running"


def test_a_task_uses_its_scratch_dir_and_an_allowed_port_but_no_other(scene: Scene) -> None:
    host, c = scene.host, scene.host.client
    with TcpGate() as allowed, TcpGate() as denied:
        host.registry.set_policy("ta", allow_connect=[allowed.port])
        host.scheduler.dispatcher.stop_version("ta", "hostile", "1.0.0")  # the next worker gets the policy
        allowed.open()
        try:
            eid = c.schedule("ta::hostile::attacks", {"attack": "scratch_and_ports", "args": {
                "allowed": allowed.port, "denied": denied.port}}, tenant="ta")
            state = host.wait(eid, tenant="ta", timeout=90)
            assert state["status"] == "succeeded", state["error"]
            assert state["output"]["got"] == {"scratch": "kept in scratch", "allowed": "1",
                                              "denied": "PermissionError"}
            assert allowed.connections == 1 and denied.connections == 0
        finally:
            host.registry.set_policy("ta", allow_connect=[])
            host.scheduler.dispatcher.stop_version("ta", "hostile", "1.0.0")
