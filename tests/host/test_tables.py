"""`wfhost.store.tables` (generated) holds exactly the tables the SQLModel models declare."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import MetaData, String, create_mock_engine

from wfhost.store import _tablegen, tables
from wfhost.store.engine import schema_metadata


def test_the_generated_module_is_up_to_date_with_the_models() -> None:
    assert _tablegen.TARGET.read_text(encoding="utf-8") == _tablegen.render(schema_metadata()), (
        "the models changed: run `.venv/bin/python -m wfhost.store._tablegen`")


def _ddl(metadata: MetaData, dialect: str) -> list[str]:
    statements: list[str] = []

    def record(sql: Any, *_args: Any, **_kw: Any) -> None:
        statements.append(" ".join(str(sql.compile(dialect=engine.dialect)).split()))

    engine = create_mock_engine(f"{dialect}://", record)
    metadata.create_all(engine, checkfirst=False)
    return sorted(statements)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_core_tables_create_the_statements_the_models_do(dialect: str) -> None:
    assert _ddl(tables.metadata, dialect) == _ddl(schema_metadata(), dialect)


def test_the_core_tables_keep_the_models_python_defaults_and_types() -> None:
    models = schema_metadata()
    assert set(tables.metadata.tables) == set(models.tables)
    for name, table in models.tables.items():
        for col in table.columns:
            mine = tables.metadata.tables[name].c[col.name]
            assert (mine.default.arg if mine.default is not None else None) == (  # type: ignore[attr-defined]
                col.default.arg if col.default is not None else None), f"{name}.{col.name}"  # type: ignore[attr-defined]
            kind = String if type(col.type).__name__ == "AutoString" else type(col.type)  # SQLModel's String
            assert type(mine.type) is kind, f"{name}.{col.name}"
            assert (mine.primary_key, mine.nullable) == (col.primary_key, col.nullable)
