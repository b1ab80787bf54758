"""A service on a loopback port over a host on SQLite, and again on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from support.databases import postgres_database
from support.packages import build_sample, make_key
from support.serving import World, served

from wfhost import Host


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("service")
    key = make_key(tmp, "ci")
    archives = {name: build_sample(name, key, tmp / "dist") for name in ("purchase_approval", "data_processing")}
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database()) if request.param == "postgresql" else None
        host = stack.enter_context(Host(home=tmp / "home", database_url=url, load_timeout=30))
        srv = stack.enter_context(served(host))
        yield World(srv, srv.admin_token(), key, archives)
