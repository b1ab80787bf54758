"""The hot path's DB-API statements behave like SQLAlchemy's execution path where callers rely on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from wfhost import Host


def test_a_statement_raises_sqlalchemy_errors(tmp_path: Path, db_url: str) -> None:
    """`create_execution` catches `IntegrityError` when two clients race to create one id."""
    from wfhost.store import _sql as sql

    insert = sql.Statement("INSERT INTO tenants (name, created_at) VALUES (:n, CURRENT_TIMESTAMP)")
    host = Host(home=tmp_path / "home", database_url=db_url)  # not started: nothing else writes
    try:
        with pytest.raises(IntegrityError, match="twice|UNIQUE|duplicate"), host.engine.begin() as conn:
            insert.run(conn, {"n": "twice"})
            insert.run(conn, {"n": "twice"})
        with host.engine.connect() as conn:  # and the failed transaction left nothing behind
            assert sql.Statement("SELECT name FROM tenants WHERE name = :n").run(
                conn, {"n": "twice"}).all() == []
    finally:
        host.close()
