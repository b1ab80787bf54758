"""Several `wfhost worker` processes, each with its own home, on one PostgreSQL database.

A package is registered through the first host only; the others install it
from the package store on first use. One host is SIGKILLed mid-run and the
others take over its attempts; signals go through a random host each.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from support.databases import postgres_database
from support.fleet import TASKS, fleet_package
from support.packages import TestKey, make_key
from support.waiting import until

from wfhost import Client
from wfhost.store import migrate, open_engine
from wfhost.store._db import EV, E, H, T

TENANT = "acme"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> TestKey:
    return make_key(tmp_path_factory.mktemp("fleet-key"))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, key: TestKey) -> Path:
    return fleet_package(key, tmp_path_factory.mktemp("fleet"))


@contextmanager
def fleet(tmp_path: Path, key: TestKey, archive: Path,
          hosts: int) -> Iterator[tuple[str, list[Path], list[subprocess.Popen[bytes]], Engine]]:
    """A fresh database, the package registered through host 1, and ``hosts`` running workers."""
    with postgres_database() as url:
        engine = open_engine(url)
        migrate(engine)
        homes = [tmp_path / f"host{i + 1}" for i in range(hosts)]
        with Client(homes[0], url, tenant=TENANT) as client:
            client.create_tenant(TENANT)
            client.trust(TENANT, key.pub_path.read_text())
            client.register(archive)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WFHOST_")}
        procs = [subprocess.Popen([sys.executable, "-m", "wfhost", "--home", str(home), "--db", url,
                                   "worker", "--concurrency", "16"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for home in homes]
        try:
            pids = {p.pid for p in procs}
            until(lambda: _live_pids(engine) >= pids or any(p.poll() is not None for p in procs),
                  "every host to start", timeout=60)
            assert all(p.poll() is None for p in procs), [p.stderr.read() for p in procs if p.stderr]
            yield url, homes, procs, engine
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=60)
            engine.dispose()


def _installed(home: Path) -> Path:
    return home / "packages" / TENANT / "fleet" / "1.0.0"


def _live_pids(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return {r.pid for r in conn.execute(select(H.c.pid).where(H.c.stopped.is_(False)))}


def _host_id(engine: Engine, pid: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(H.c.id).where(H.c.pid == pid)).scalar_one())


def _events(engine: Engine, kind: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(E.c.id, EV.c.task_id, EV.c.detail).select_from(
            EV.join(E, E.c.uid == EV.c.execution_uid)).where(EV.c.kind == kind)))


def _unfinished(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(E).where(
            E.c.status.in_(("pending", "running", "waiting")))).scalar_one())


def test_three_hosts_run_a_package_registered_on_one_and_take_over_a_killed_hosts_attempts(
        tmp_path: Path, key: TestKey, archive: Path) -> None:
    runs = 200
    with fleet(tmp_path, key, archive, 3) as (url, homes, procs, engine):
        with Client(homes[0], url, tenant=TENANT) as client:
            client.schedule_many("fleet::ten", [{"n": k, "pause": 0.05} for k in range(runs)],
                                 ids=[f"run-{k}" for k in range(runs)])
        hosts = [_host_id(engine, p.pid) for p in procs]
        victim = hosts[1]

        def victim_is_busy() -> bool:
            if not _installed(homes[1]).is_dir():  # it has fetched the package and runs it
                return False
            with engine.connect() as conn:
                return bool(conn.execute(select(func.count()).select_from(T).where(
                    T.c.state == "running", T.c.lease_owner == victim)).scalar_one())

        until(victim_is_busy, "host 2 to install the package and run attempts", timeout=120)
        procs[1].send_signal(signal.SIGKILL)
        assert procs[1].wait(timeout=30) == -signal.SIGKILL
        until(lambda: _unfinished(engine) == 0, "every execution to finish", timeout=300)
        with Client(homes[2], url, tenant=TENANT) as client:
            states = [client.status(f"run-{k}") for k in range(runs)]
        succeeded = Counter((eid, task) for eid, task, _ in _events(engine, "task_succeeded"))
        started = _events(engine, "task_started")
        recovered = {(eid, task) for eid, task, _ in _events(engine, "task_recovered")}

    assert [s["status"] for s in states] == ["succeeded"] * runs
    assert [s["output"]["t9"] for s in states] == [sum(k + i for i in range(1, 9)) for k in range(runs)]
    # Every task's result was recorded exactly once, whoever ran it and however often.
    assert len(succeeded) == runs * TASKS and set(succeeded.values()) == {1}
    # Every host did work, host 2 included, before it died ...
    by_host = Counter(json.loads(detail)["host"] for _, _, detail in started)
    assert set(by_host) == set(hosts), by_host
    # ... and what it held when it died was taken over and run again by the others.
    held_by_victim = {(eid, task) for eid, task, detail in started if json.loads(detail)["host"] == victim}
    assert recovered and recovered <= held_by_victim
    restarted_elsewhere = {(eid, task) for eid, task, detail in started
                           if (eid, task) in recovered and json.loads(detail)["host"] != victim}
    assert restarted_elsewhere == recovered
    for home in homes:  # registered on host 1 only; installed by each host from the store
        assert _installed(home).is_dir()


def test_waits_under_several_hosts_resume_each_execution_exactly_once(
        tmp_path: Path, key: TestKey, archive: Path) -> None:
    runs = 500
    rng = random.Random(7)
    with fleet(tmp_path, key, archive, 3) as (url, homes, _procs, engine):
        clients = [Client(home, url, tenant=TENANT) for home in homes]
        try:
            # Even runs get a signal (their timer is long); odd runs wait for a short timer.
            inputs = [{"timer": 600 if k % 2 == 0 else 2} for k in range(runs)]
            clients[0].schedule_many("fleet::waiter", inputs, ids=[f"wait-{k}" for k in range(runs)])
            until(lambda: len(_events(engine, "task_waiting")) >= runs, "every run to wait", timeout=600)
            for k in range(0, runs, 2):
                rng.choice(clients).signal(f"wait-{k}", "go", {"k": k})
            until(lambda: _unfinished(engine) == 0, "every run to resume and finish", timeout=600)
            states = [clients[1].status(f"wait-{k}") for k in range(runs)]
        finally:
            for c in clients:
                c.close()
        resumed = Counter(eid for eid, _task, _ in _events(engine, "task_succeeded"))

    assert [s["status"] for s in states] == ["succeeded"] * runs
    assert [s["output"]["woken_by"] for s in states] == ["signal", "timer"] * (runs // 2)
    assert [s["output"].get("payload") for s in states[::2]] == [{"k": k} for k in range(0, runs, 2)]
    assert set(resumed.values()) == {1} and len(resumed) == runs
