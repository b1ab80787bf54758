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
