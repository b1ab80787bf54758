"""Databases for tests: SQLite in a temp dir, or a fresh PostgreSQL database per test.

PostgreSQL is the server on 127.0.0.1:5432 (user postgres, trust auth); tests
that ask for it skip, saying so, when it is not reachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_ADMIN = os.environ.get("WFHOST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_connect():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)


def postgres_available() -> str | None:
    """``None`` if the server answers, else why not."""
    try:
        with _pg_connect():
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"PostgreSQL not reachable at {PG_ADMIN}: {exc}".splitlines()[0]


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database; dropped afterwards. Skips the test if the server is absent."""
    why = postgres_available()
    if why:
        pytest.skip(why)
    name = f"wfhost_test_{uuid.uuid4().hex[:12]}"
    with _pg_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with _pg_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
