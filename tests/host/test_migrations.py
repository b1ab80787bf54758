"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from wfhost.store import migrate, open_engine


def test_migrated_store_matches_the_models_and_upgrading_twice_is_harmless(db_url: str) -> None:
    engine = open_engine(db_url)
    try:
        migrate(engine)
        migrate(engine)  # every host and client runs it on open
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
            tables = set(inspect(conn).get_table_names())
        assert diff == [], f"models and migrations disagree: {diff}"
        assert {"executions", "task_runs", "journal", "waits", "signals", "events", "hosts",
                "tenants", "trusted_keys", "package_versions", "alembic_version"} <= tables
    finally:
        engine.dispose()


def test_schema_stamp_skips_alembic_on_an_up_to_date_store(db_url: str, monkeypatch) -> None:  # noqa: ANN001
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from wfhost.store.engine import _MIGRATIONS, schema_heads, schema_stamp

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    assert schema_heads() == frozenset(ScriptDirectory.from_config(cfg).get_heads())

    engine = open_engine(db_url)
    try:
        assert schema_stamp(engine) is None  # a fresh store
        upgrades: list[str] = []
        real = command.upgrade
        monkeypatch.setattr(command, "upgrade", lambda *a, **k: (upgrades.append("up"), real(*a, **k)))
        migrate(engine)
        assert upgrades == ["up"] and schema_stamp(engine) == schema_heads()
        migrate(engine)
        assert upgrades == ["up"], "Alembic ran again on a store already at the newest revision"
    finally:
        engine.dispose()
