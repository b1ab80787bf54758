"""Opening the durable store: one SQLAlchemy engine chosen by URL, its schema kept by Alembic.

SQLite (WAL, ``synchronous=NORMAL``, or ``FULL`` with durability ``full``)
under the host's home is the default;
any SQLAlchemy URL works through ``WFHOST_DATABASE_URL``. Dialect specifics
live here and in `skip_locked`; the rest of the host writes
portable SQL.
"""

from __future__ import annotations

import os
import re
import threading
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event

from .checkpoint import attach as attach_checkpointer

__all__ = [
    "DURABILITY",
    "default_home",
    "in_write_transaction",
    "migrate",
    "open_engine",
    "reader",
    "resolve_durability",
    "resolve_url",
    "schema_heads",
    "schema_metadata",
    "schema_stamp",
    "skip_locked",
    "upgrade",
]

_MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def default_home() -> Path:
    """``$WFHOST_HOME``, or ``wfhost`` under the user's data directory."""
    env = os.environ.get("WFHOST_HOME")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("wfhost"))


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


DURABILITY = ("normal", "full")


def resolve_durability(durability: str | None = None) -> str:
    """The durability setting: explicit, else ``$WFHOST_DURABILITY``, else ``normal``.

    ``normal``: SQLite ``synchronous=NORMAL`` (WAL): a crash of any process
    loses nothing committed; a power loss or OS crash may lose the last
    commits (never corrupts). ``full``: SQLite ``synchronous=FULL``, an fsync
    per commit: a power loss loses nothing committed. On PostgreSQL,
    ``normal`` keeps the server's own ``synchronous_commit`` and ``full``
    sets it to ``on`` for the host's sessions (see docs/executions.md).

    Raises:
        InvalidRequest: anything but ``normal`` or ``full``.
    """
    value = (durability or os.environ.get("WFHOST_DURABILITY") or "normal").strip().lower()
    if value not in DURABILITY:
        from wfhost.errors import InvalidRequest

        raise InvalidRequest(f"durability {value!r} is not one of: normal, full "
                             "(--durability or WFHOST_DURABILITY)")
    return value


_WRITERS: weakref.WeakKeyDictionary[Engine, threading.local] = weakref.WeakKeyDictionary()


def in_write_transaction(engine: Engine) -> bool:
    """Whether the calling thread holds a write transaction of this SQLite engine (False elsewhere)."""
    holder = _WRITERS.get(engine)
    return holder is not None and getattr(holder, "held", False)


def _sqlite_setup(engine: Engine, durability: str) -> None:
    # Writers take SQLite's write lock up front (BEGIN IMMEDIATE), so two writers never
    # deadlock upgrading a read lock. Within one process they queue on a Python lock
    # first: a thread handoff instead of SQLite's sleeping busy handler. Readers
    # (connections with the ``wfhost_read`` option) begin deferred and never block.
    write_lock = threading.Lock()
    holder = _WRITERS[engine] = threading.local()
    checkpointer = attach_checkpointer(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, issues BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL" if durability == "full" else "PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        if checkpointer is not None:  # checkpoints run in the checkpointer's thread, not in commits
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # BEGIN goes straight to the driver: SQLAlchemy's execution path would cost more
        # than the statement (and it opens the scheduler's every turn).
        driver = conn.connection.driver_connection
        if conn.get_execution_options().get("wfhost_read"):
            driver.execute("BEGIN")
            return
        if getattr(holder, "held", False):
            # A second write transaction in the same thread would wait for the first forever.
            raise RuntimeError("a write transaction was opened inside another one in the same thread")
        write_lock.acquire()
        holder.held = True
        conn.info["wfhost_write_lock"] = True
        try:
            driver.execute("BEGIN IMMEDIATE")
        except BaseException:
            conn.info.pop("wfhost_write_lock", None)
            holder.held = False
            write_lock.release()
            raise

    def _release(conn: Any) -> None:
        if conn.info.pop("wfhost_write_lock", None):
            holder.held = False
            write_lock.release()
            if checkpointer is not None:
                checkpointer.wrote()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)


def reader(engine: Engine) -> Engine:
    """The same engine for read-only work: on SQLite its transactions never take the write lock."""
    return engine.execution_options(wfhost_read=True)


def open_engine(url: str, durability: str | None = None) -> Engine:
    """Create an engine for ``url`` with the settings the host relies on. The caller disposes it.

    ``durability`` is ``normal`` or ``full`` (default: `resolve_durability`).
    """
    level = resolve_durability(durability)
    if url.startswith("sqlite"):
        engine = create_engine(url, pool_size=8, max_overflow=32)
        _sqlite_setup(engine, level)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    if level == "full":
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute("SET synchronous_commit = on")
            dbapi_conn.commit()
    return engine


def skip_locked(engine: Engine) -> bool:
    """Whether the dialect supports ``FOR UPDATE SKIP LOCKED`` (PostgreSQL does, SQLite needs none)."""
    return engine.dialect.name == "postgresql"


def schema_heads() -> frozenset[str]:
    """The newest revisions of the migration history, read from the migration files' text.

    A handful of small files scanned with a regex: far cheaper than importing
    Alembic, which `migrate` does only when the store is not at these heads.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        rev = _REVISION.search(source)
        if rev:
            revisions.add(rev.group(1))
        down = _DOWN_REVISION.search(source)
        if down:
            parents.update(_QUOTED.findall(down.group(1)))
    return frozenset(revisions - parents)


def schema_stamp(engine: Engine) -> frozenset[str] | None:
    """The revisions the store is at (its ``alembic_version`` rows), or ``None`` if it has none."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with reader(engine).connect() as conn:
            return frozenset(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version")))
    except DBAPIError:  # no such table: a fresh store
        return None


def schema_metadata() -> MetaData:
    """Every table of the store (host, registry and service tables): `SQLModel.metadata`, filled."""
    from sqlmodel import SQLModel

    import wfregistry.models  # noqa: F401 - registers the registry tables on the metadata

    from . import access, models  # noqa: F401

    return SQLModel.metadata


#: The table Alembic keeps its revision in, as Alembic itself creates it.
_VERSION_TABLE = ("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                  "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")


def _create_fresh(engine: Engine, heads: frozenset[str]) -> bool:
    """Create an empty store's schema from the models and stamp it at ``heads``, without Alembic.

    The tables come from `wfhost.store.tables` (the models rendered as Core,
    so neither SQLModel nor Alembic is imported). Running every migration
    from the first builds the same schema (a test compares both, table by
    table), at the cost of importing Alembic and Mako and replaying history.
    Returns False, creating nothing, if the store has any table (another
    process got there first, or a store Alembic must bring up to date).
    """
    from sqlalchemy import inspect, text

    from .tables import metadata

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # hosts starting together on one new database queue here
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('wfhost schema'))"))
        if inspect(conn).get_table_names():
            return False
        metadata.create_all(conn, checkfirst=False)
        conn.execute(text(_VERSION_TABLE))
        for head in sorted(heads):
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head})
    return True


def upgrade(engine: Engine) -> None:
    """Run the Alembic migrations up to the newest revision (what `migrate` does on an older store)."""
    from alembic import command
    from alembic.config import Config

    schema_metadata()
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe with several hosts).

    Checks the store's schema stamp first: an up-to-date store costs one
    query; an empty one gets its tables from the models and the stamp of
    the newest revisions (no Alembic); only a store at an older revision
    runs the Alembic migrations (`upgrade`).
    """
    stamp = schema_stamp(engine)
    heads = schema_heads()
    if stamp == heads:
        return
    if stamp is None:
        if _create_fresh(engine, heads):
            return
        if schema_stamp(engine) == heads:  # another process created it meanwhile
            return
    upgrade(engine)
