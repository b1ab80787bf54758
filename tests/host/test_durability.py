"""The durability setting reaches the store: SQLite's ``synchronous`` and PostgreSQL's ``synchronous_commit``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from wfhost import Host, InvalidRequest
from wfhost.store import open_engine


def _setting(engine, db_url: str) -> str:  # noqa: ANN001
    with engine.connect() as conn:
        if db_url.startswith("sqlite"):
            return {1: "NORMAL", 2: "FULL"}[conn.execute(text("PRAGMA synchronous")).scalar()]
        return str(conn.execute(text("SHOW synchronous_commit")).scalar())


def test_full_durability_fsyncs_every_commit(tmp_path: Path, db_url: str) -> None:
    with Host(home=tmp_path / "home", database_url=db_url, durability="full") as host:
        assert _setting(host.engine, db_url) in ("FULL", "on")


def test_normal_durability_is_the_default_and_the_environment_picks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'wfhost.db'}"
    for env, expected in ((None, "NORMAL"), ("full", "FULL"), ("normal", "NORMAL")):
        if env is None:
            monkeypatch.delenv("WFHOST_DURABILITY", raising=False)
        else:
            monkeypatch.setenv("WFHOST_DURABILITY", env)
        engine = open_engine(url)
        try:
            assert _setting(engine, url) == expected
        finally:
            engine.dispose()


def test_an_unknown_durability_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="durability 'sometimes' is not one of: normal, full"):
        Host(home=tmp_path / "home", durability="sometimes")
    done = subprocess.run([sys.executable, "-m", "wfhost", "--home", str(tmp_path / "cli"),
                           "--durability", "sometimes", "status", "x"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "durability 'sometimes' is not one of" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_sqlite_checkpoints_run_beside_commits_not_inside_them(tmp_path: Path) -> None:
    from wfhost.store.checkpoint import COMMITS_PER_CHECKPOINT, checkpointer_of

    url = f"sqlite:///{tmp_path / 'wfhost.db'}"
    engine = open_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
            # No commit copies the WAL into the database (and syncs it) under the write lock.
            assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
        for i in range(3 * COMMITS_PER_CHECKPOINT):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "x" * 2000 + str(i)})
        checkpointer = checkpointer_of(engine)
        assert checkpointer is not None
        assert checkpointer.wait_for(1, timeout=60), "the WAL was never checkpointed"
    finally:
        engine.dispose()
    with sqlite3.connect(tmp_path / "wfhost.db") as db:
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 3 * COMMITS_PER_CHECKPOINT
