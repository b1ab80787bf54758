"""Writes `wfhost.store.tables`: the store's tables as SQLAlchemy Core, rendered from the SQLModel models.

The models (`wfhost.store.models`, `wfregistry.models`, `wfhost.store.access`)
define the schema and the migrations follow them. Importing them costs
SQLModel, pydantic and the ORM (≈ 18 MiB and ≈ 0.15 s); a host, the CLI's
reads and a fresh store's creation only need the Core tables, so they use
this rendering of the same metadata. ``tests/host/test_tables.py`` fails when
it is stale; after changing a model, run::

    .venv/bin/python -m wfhost.store._tablegen
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)
from sqlalchemy.sql.elements import TextClause

__all__ = ["TARGET", "render"]

TARGET = Path(__file__).with_name("tables.py")

_HEADER = '''"""The store's tables as SQLAlchemy Core: GENERATED from the SQLModel models, do not edit.

`wfhost.store._tablegen` renders this from the models (`wfhost.store.models`,
`wfregistry.models`, `wfhost.store.access`), which stay the one definition of
the schema; here the same tables need neither SQLModel nor pydantic. After
changing a model: ``.venv/bin/python -m wfhost.store._tablegen``
(tests/host/test_tables.py fails until then).
"""

# ruff: noqa: E501
from __future__ import annotations

'''


def _type(col: Column[Any], imports: set[str], extra: set[str]) -> str:
    kind = type(col.type)
    if kind.__module__ == "sqlmodel.sql.sqltypes" and kind.__name__ == "AutoString":
        # SQLModel's String: a plain String wherever a length is given (MySQL aside).
        assert getattr(col.type, "length", None) is not None, f"{col}: AutoString without a length"
        imports.add("String")
        return f"String(length={col.type.length})"  # type: ignore[attr-defined]
    if kind.__module__ == "wfregistry._sqltypes":
        extra.add(f"from wfregistry._sqltypes import {kind.__name__}")
        return repr(col.type)
    import sqlalchemy

    if getattr(sqlalchemy, kind.__name__, None) is not kind:
        raise TypeError(f"{col}: cannot render type {kind.__module__}.{kind.__name__}")
    imports.add(kind.__name__)
    return repr(col.type)


def _column(col: Column[Any], imports: set[str], extra: set[str]) -> str:
    args = [repr(col.name), _type(col, imports, extra)]
    if col.primary_key:
        args.append("primary_key=True")
    args.append(f"nullable={col.nullable!r}")
    if col.default is not None:
        if not col.default.is_scalar:
            raise TypeError(f"{col}: only scalar defaults can be rendered")
        args.append(f"default={col.default.arg!r}")  # type: ignore[attr-defined]
    if col.autoincrement != "auto":
        args.append(f"autoincrement={col.autoincrement!r}")
    if col.server_default is not None or col.onupdate is not None or col.comment:
        raise TypeError(f"{col}: server defaults, onupdate and comments are not rendered")
    return f"Column({', '.join(args)})"


def _partial(index: Index, imports: set[str]) -> str:
    """A partial index as its own statement, run after its table is created.

    An `Index` given ``sqlite_where=`` and ``postgresql_where=`` imports every
    dialect it names to check them (PostgreSQL's, ≈ 2 MiB, on a SQLite host);
    one ``WHERE`` that is the same text for every dialect is one statement
    that both run.
    """
    wheres = set()
    for key, value in index.dialect_kwargs.items():
        if not key.endswith("_where") or not isinstance(value, TextClause):
            raise TypeError(f"{index.name}: cannot render option {key}={value!r}")
        wheres.add(value.text)
    if len(wheres) != 1:
        raise TypeError(f"{index.name}: a partial index needs the same WHERE for every dialect")
    imports.update({"DDL", "event"})
    table = index.table
    assert table is not None
    cols = ", ".join(c.name for c in index.columns)
    statement = (f"CREATE {'UNIQUE ' if index.unique else ''}INDEX {index.name} "
                 f"ON {table.name} ({cols}) WHERE {wheres.pop()}")
    return (f"event.listen({table.name}, \"after_create\",\n"
            f"             DDL({statement!r}))  # type: ignore[no-untyped-call]\n")


def _table(table: Table, imports: set[str], extra: set[str]) -> str:  # noqa: C901 - one branch per kind
    if table.dialect_kwargs or table.schema:
        raise TypeError(f"{table.name}: table options and schemas are not rendered")
    items = [_column(c, imports, extra) for c in table.columns]
    for con in table._sorted_constraints:  # the order CREATE TABLE lists them in
        if isinstance(con, PrimaryKeyConstraint):
            if con.name is not None:
                raise TypeError(f"{table.name}: named primary keys are not rendered")
            continue  # the columns' primary_key flags
        if isinstance(con, UniqueConstraint):
            imports.add("UniqueConstraint")
            cols = ", ".join(repr(c.name) for c in con.columns)
            items.append(f"UniqueConstraint({cols}, name={str(con.name)!r})")
        elif isinstance(con, ForeignKeyConstraint):
            if con.name is not None or con.ondelete or con.onupdate:
                raise TypeError(f"{table.name}: named or cascading foreign keys are not rendered")
            imports.add("ForeignKeyConstraint")
            items.append(f"ForeignKeyConstraint({[c.name for c in con.columns]!r}, "
                         f"{[e.target_fullname for e in con.elements]!r})")
        else:
            raise TypeError(f"{table.name}: cannot render {type(con).__name__}")
    after = []
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        if index.dialect_kwargs:
            after.append(_partial(index, imports))
            continue
        imports.add("Index")
        args = [repr(str(index.name)), *(repr(c.name) for c in index.columns)]
        if index.unique:
            args.append("unique=True")
        items.append(f"Index({', '.join(args)})")
    body = "".join(f"    {item},\n" for item in items)
    return f"{table.name} = Table(\n    {table.name!r},\n    metadata,\n{body})\n" + "".join(after)


def _isort(name: str) -> tuple[int, str]:
    """isort's order by type: constants, classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def render(metadata: MetaData) -> str:
    """The source of `wfhost.store.tables` for ``metadata`` (every table, by name)."""
    imports = {"MetaData", "Table", "Column"}
    extra: set[str] = set()
    tables = [_table(metadata.tables[name], imports, extra) for name in sorted(metadata.tables)]
    convention = dict(metadata.naming_convention)
    names = sorted(metadata.tables)
    return (_HEADER
            + "from sqlalchemy import (\n" + "".join(f"    {name},\n" for name in sorted(imports, key=_isort)) + ")\n\n"
            + "".join(f"{line}\n" for line in sorted(extra)) + "\n"
            + "__all__ = [\n" + "".join(f"    {name!r},\n" for name in ["metadata", *names]) + "]\n\n"
            + f"metadata = MetaData(naming_convention={convention!r})\n\n"
            + "\n".join(tables))


def main() -> None:
    """Rewrite `wfhost.store.tables` from the models."""
    from .engine import schema_metadata

    TARGET.write_text(render(schema_metadata()), encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
