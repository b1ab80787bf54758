"""Fixtures for host tests: a store on SQLite and (where available) PostgreSQL, and a running Host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.databases import postgres_database

from wfhost import Host


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wfhost.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def host(tmp_path: Path, db_url: str) -> Iterator[Host]:
    """A started host with its home in tmp_path; closed afterwards."""
    with Host(home=tmp_path / "home", database_url=db_url) as h:
        yield h


@pytest.fixture
def sqlite_host(tmp_path: Path) -> Iterator[Host]:
    """A started host on SQLite only (for tests whose subject is not the database)."""
    with Host(home=tmp_path / "home") as h:
        yield h
