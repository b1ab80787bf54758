"""Schemathesis against /openapi.json over real HTTP: no 5xx, and every response conforms to the schema.

Bounded: a fixed number of derandomized examples per operation, once with a
tenant token (its own tenant in the path, so requests reach the handlers) and
once with an admin token.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.packages import build_sample, make_key
from support.serving import World, served

from wfhost import Host

EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A service of its own: the fuzzer creates and deletes tenants at will."""
    tmp = tmp_path_factory.mktemp("schema")
    key = make_key(tmp, "ci")
    archives = {"purchase_approval": build_sample("purchase_approval", key, tmp / "dist")}
    with Host(home=tmp / "home", load_timeout=30) as host, served(host) as srv:
        yield World(srv, srv.admin_token(), key, archives)


def _run(world: World, token: str, tenant: str | None) -> int:
    schema = schemathesis.openapi.from_url(world.srv.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        fixed = {"tenant": tenant} if tenant and "{tenant}" in operation.path else None

        @given(case=operation.as_strategy(path_parameters=fixed))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=world.srv.url, headers=headers, checks=CHECKS, timeout=30)

        check()
        ran += 1
    return ran


def test_the_api_conforms_to_its_schema_for_a_tenant(fuzzed: World) -> None:
    token = fuzzed.tenant("fuzz")
    assert _run(fuzzed, token, "fuzz") >= 20


def test_the_api_conforms_to_its_schema_for_an_admin(fuzzed: World, tmp_path: Path) -> None:
    assert _run(fuzzed, fuzzed.admin, None) >= 20
