"""The hot path's DB-API statements behave like SQLAlchemy's execution path where callers rely on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from wfhost import Host


def test_a_statement_raises_sqlalchemy_errors(tmp_path: Path, db_url: str) -> None:
    """`create_execution` catches `IntegrityError` when two clients race to create one id."""
    from wfhost.store import _sql as sql

    insert = sql.Statement("INSERT INTO hosts (id, hostname, pid, started_at, heartbeat_at, "
                           "stopped) VALUES (:id, 'h', 1, 0, 0, FALSE)")
    with Host(home=tmp_path / "home", database_url=db_url) as host:
        with host.engine.begin() as conn:
            insert.run(conn, {"id": "twice"})
        with pytest.raises(IntegrityError, match="twice|UNIQUE|duplicate"), host.engine.begin() as conn:
            insert.run(conn, {"id": "twice"})
