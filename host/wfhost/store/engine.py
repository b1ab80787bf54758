"""Opening the durable store: one SQLAlchemy engine chosen by URL, migrated by Alembic.

SQLite (WAL, ``synchronous=NORMAL``) under the host's home is the default;
any SQLAlchemy URL works through ``WFHOST_DATABASE_URL``. Dialect specifics
live here and in `skip_locked`; the rest of the host writes
portable SQL.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Engine, create_engine, event

__all__ = ["default_home", "migrate", "open_engine", "reader", "resolve_url", "skip_locked"]

_MIGRATIONS = Path(__file__).parent / "migrations"


def default_home() -> Path:
    """``$WFHOST_HOME``, or ``wfhost`` under the user's data directory."""
    env = os.environ.get("WFHOST_HOME")
    return Path(env) if env else Path(platformdirs.user_data_dir("wfhost"))


def resolve_url(home: Path | None = None, url: str | None = None) -> str:
    """The database URL: explicit, else ``$WFHOST_DATABASE_URL``, else SQLite in ``home``."""
    if url:
        return url
    env = os.environ.get("WFHOST_DATABASE_URL")
    if env:
        return env
    base = home or default_home()
    base.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{base / 'wfhost.db'}"


def _sqlite_setup(engine: Engine) -> None:
    # Writers take SQLite's write lock up front (BEGIN IMMEDIATE), so two writers never
    # deadlock upgrading a read lock. Within one process they queue on a Python lock
    # first: a thread handoff instead of SQLite's sleeping busy handler. Readers
    # (connections with the ``wfhost_read`` option) begin deferred and never block.
    write_lock = threading.Lock()
    holder = threading.local()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, issues BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("wfhost_read"):
            conn.exec_driver_sql("BEGIN")
            return
        if getattr(holder, "held", False):
            # A second write transaction in the same thread would wait for the first forever.
            raise RuntimeError("a write transaction was opened inside another one in the same thread")
        write_lock.acquire()
        holder.held = True
        conn.info["wfhost_write_lock"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            conn.info.pop("wfhost_write_lock", None)
            holder.held = False
            write_lock.release()
            raise

    def _release(conn: Any) -> None:
        if conn.info.pop("wfhost_write_lock", None):
            holder.held = False
            write_lock.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)


def reader(engine: Engine) -> Engine:
    """The same engine for read-only work: on SQLite its transactions never take the write lock."""
    return engine.execution_options(wfhost_read=True)


def open_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the settings the host relies on. The caller disposes it."""
    if url.startswith("sqlite"):
        engine = create_engine(url, pool_size=8, max_overflow=32)
        _sqlite_setup(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def skip_locked(engine: Engine) -> bool:
    """Whether the dialect supports ``FOR UPDATE SKIP LOCKED`` (PostgreSQL does, SQLite needs none)."""
    return engine.dialect.name == "postgresql"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe with several hosts)."""
    from alembic import command
    from alembic.config import Config

    import wfregistry.models  # noqa: F401 - registers the registry tables on the metadata

    from . import models  # noqa: F401

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
