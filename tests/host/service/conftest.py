"""A service with two tenants, each with purchase_approval registered over the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.packages import build_sample, make_key
from support.serving import World, served

from wfhost import Host


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("service")
    key = make_key(tmp, "ci")
    archives = {name: build_sample(name, key, tmp / "dist") for name in ("purchase_approval", "data_processing")}
    with Host(home=tmp / "home", load_timeout=30) as host, served(host) as srv:
        yield World(srv, srv.admin_token(), key, archives)
