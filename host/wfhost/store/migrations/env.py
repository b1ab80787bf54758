"""Alembic environment: runs on the connection `wfhost.store.migrate` passes in."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import wfregistry.models  # noqa: F401
from wfhost.store import access, models  # noqa: F401

connection = context.config.attributes.get("connection")
target_metadata = SQLModel.metadata

if connection is None:  # `alembic revision --autogenerate` from a developer's shell
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///migrations-dev.db"
    with create_engine(url).connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
