"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL.

An empty store gets its tables from the models (no Alembic); a store at an
older revision runs the migrations. Both must end in the same schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect
from sqlmodel import SQLModel
from support.databases import postgres_database

from wfhost.store import migrate, open_engine
from wfhost.store.engine import _MIGRATIONS, schema_heads, schema_metadata, schema_stamp, upgrade


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def _alembic_to(engine: Engine, revision: str) -> None:
    schema_metadata()
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


@contextmanager
def _other_store(db_url: str, tmp: Any) -> Iterator[str]:
    """A second empty store of the same dialect."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp / 'other.db'}"
    else:
        with postgres_database() as url:
            yield url


def _options(options: dict[str, Any]) -> str:
    return repr(sorted((k, str(v)) for k, v in options.items()))


def _schema(conn: Connection) -> dict[str, Any]:
    """Everything about the tables a reader of the database can see (column order aside)."""
    insp = inspect(conn)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        out[table] = {
            "columns": sorted((c["name"], str(c["type"]), c["nullable"], c.get("default"),
                               c.get("autoincrement")) for c in insp.get_columns(table)),
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                           tuple(f["referred_columns"]), _options(f.get("options", {})))
                          for f in insp.get_foreign_keys(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]),
                               _options(i.get("dialect_options", {})))
                              for i in insp.get_indexes(table)),
            "unique": sorted((u["name"], tuple(u["column_names"]))
                             for u in insp.get_unique_constraints(table)),
        }
    return out


def test_a_fresh_store_has_exactly_the_schema_the_migrations_build(db_url: str, tmp_path) -> None:  # noqa: ANN001
    fresh = open_engine(db_url)
    with _other_store(db_url, tmp_path) as other_url:
        migrated = open_engine(other_url)
        try:
            migrate(fresh)  # empty: tables from the models, stamped
            migrate(fresh)  # every host and client runs it on open
            upgrade(migrated)  # every migration from the first
            with fresh.connect() as a, migrated.connect() as b:
                built, replayed = _schema(a), _schema(b)
                diff = compare_metadata(MigrationContext.configure(b), SQLModel.metadata)
            assert diff == [], f"models and migrations disagree: {diff}"
            assert built == replayed
            assert {"executions", "task_runs", "journal", "waits", "signals", "events", "hosts",
                    "tenants", "trusted_keys", "package_versions", "alembic_version"} <= set(built)
            assert schema_stamp(fresh) == schema_stamp(migrated) == schema_heads()
        finally:
            migrated.dispose()
            fresh.dispose()


def test_only_a_store_at_an_older_revision_runs_alembic(db_url: str, monkeypatch) -> None:  # noqa: ANN001
    assert schema_heads() == frozenset(ScriptDirectory.from_config(_config()).get_heads())

    upgrades: list[str] = []
    real = command.upgrade
    monkeypatch.setattr(command, "upgrade", lambda *a, **k: (upgrades.append(a[1]), real(*a, **k)))
    engine = open_engine(db_url)
    try:
        assert schema_stamp(engine) is None  # an empty store
        migrate(engine)
        assert upgrades == [] and schema_stamp(engine) == schema_heads()
        migrate(engine)
        assert upgrades == [], "Alembic ran on a store already at the newest revision"
    finally:
        engine.dispose()


def test_a_store_at_an_older_revision_is_upgraded(tmp_path) -> None:  # noqa: ANN001
    engine = open_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        _alembic_to(engine, "walls")  # before task_runs.deps_left
        assert schema_stamp(engine) == frozenset({"walls"})
        migrate(engine)
        assert schema_stamp(engine) == schema_heads()
        with engine.connect() as conn:
            assert "deps_left" in {c["name"] for c in inspect(conn).get_columns("task_runs")}
            assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    finally:
        engine.dispose()


def test_hosts_opening_one_empty_store_together_create_it_once(db_url: str, monkeypatch) -> None:  # noqa: ANN001
    import threading

    upgrades: list[str] = []
    monkeypatch.setattr(command, "upgrade", lambda *a, **k: upgrades.append(a[1]))
    engines = [open_engine(db_url) for _ in range(4)]
    errors: list[BaseException] = []
    gate = threading.Barrier(len(engines))

    def open_store(engine: Engine) -> None:
        gate.wait()
        try:
            migrate(engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store, args=(e,)) for e in engines]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and upgrades == []
        assert schema_stamp(engines[0]) == schema_heads()
        with engines[0].connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    finally:
        for e in engines:
            e.dispose()
