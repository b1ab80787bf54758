"""One package store for every host: register through one host, run on another, revoked keys.

Each "host" is a real `Host` with its own home on one shared database; a
version is installed under a host's home only when that host first runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.databases import postgres_database
from support.fleet import fleet_package
from support.packages import TestKey, make_key
from support.waiting import until

from wfhost import Client, Host

TENANT = "acme"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> TestKey:
    return make_key(tmp_path_factory.mktemp("fleet-key"))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, key: TestKey) -> Path:
    return fleet_package(key, tmp_path_factory.mktemp("fleet"))


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        with postgres_database() as url:
            yield url


def _installed(home: Path) -> Path:
    return home / "packages" / TENANT / "fleet" / "1.0.0"


def test_registered_through_one_host_runs_on_another_without_copying_files(
        tmp_path: Path, shared_db: str, key: TestKey, archive: Path) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    with Client(home_a, shared_db, tenant=TENANT) as client:
        client.create_tenant(TENANT)
        client.trust(TENANT, key.pub_path.read_text())
        client.register(archive)
    assert _installed(home_a).is_dir() and not _installed(home_b).exists()
    with Host(home=home_b, database_url=shared_db, tenant=TENANT) as host_b:
        eid = host_b.client.schedule("fleet::ten", {"n": 1})
        state = host_b.wait(eid, timeout=120)
    assert state["status"] == "succeeded", state
    assert state["output"]["t9"] == sum(1 + i for i in range(1, 9))
    assert _installed(home_b).is_dir()  # fetched from the store and installed on first use


def test_a_version_whose_key_was_revoked_is_not_installed_anew_but_runs_where_installed(
        tmp_path: Path, shared_db: str, key: TestKey, archive: Path) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    with Client(home_a, shared_db, tenant=TENANT) as client:
        client.create_tenant(TENANT)
        kid = client.trust(TENANT, key.pub_path.read_text())
        client.register(archive)
        client.revoke(TENANT, kid)
    with Host(home=home_b, database_url=shared_db, tenant=TENANT) as host_b:
        eid = host_b.client.schedule("fleet::ten", {"n": 1})
        refused = host_b.wait(eid, timeout=120)
    assert refused["status"] == "failed"
    assert not _installed(home_b).exists()
    t0 = next(t for t in refused["tasks"] if t["task"] == "t0")
    assert t0["attempts"] == 1  # not retried: it cannot succeed until the key is trusted again
    assert "acme::fleet@1.0.0 is not installed on this host: it no longer verifies for tenant 'acme'" \
        in t0["error"]
    assert kid in t0["error"]
    with Host(home=home_a, database_url=shared_db, tenant=TENANT) as host_a:
        eid = host_a.client.schedule("fleet::ten", {"n": 2})
        assert host_a.wait(eid, timeout=120)["status"] == "succeeded"  # installed there before


def test_a_drained_version_is_purged_on_every_host(
        tmp_path: Path, shared_db: str, key: TestKey, archive: Path) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    with Client(home_a, shared_db, tenant=TENANT) as client:
        client.create_tenant(TENANT)
        client.trust(TENANT, key.pub_path.read_text())
        client.register(archive)
    with Host(home=home_b, database_url=shared_db, tenant=TENANT) as host_b:
        eid = host_b.client.schedule("fleet::ten", {"n": 1})
        assert host_b.wait(eid, timeout=120)["status"] == "succeeded"
        assert _installed(home_b).is_dir()
        host_b.client.unregister("fleet")
        until(lambda: not _installed(home_b).exists(), "host b to purge its copy", timeout=60)
    with Host(home=home_a, database_url=shared_db, tenant=TENANT):
        until(lambda: not _installed(home_a).exists(), "host a to purge its copy", timeout=60)
