"""The durability setting reaches the store: SQLite's ``synchronous`` and PostgreSQL's ``synchronous_commit``."""

from __future__ import annotations

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
