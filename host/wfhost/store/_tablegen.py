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


def _options(item: Index, imports: set[str]) -> list[str]:
    out = []
    for key, value in sorted(item.dialect_kwargs.items()):
        if not isinstance(value, TextClause):
            raise TypeError(f"{item.name}: cannot render option {key}={value!r}")
        imports.add("text")
        out.append(f"{key}=text({value.text!r})")
    return out


def _table(table: Table, imports: set[str], extra: set[str]) -> str:
    if table.dialect_kwargs or table.schema:
        raise TypeError(f"{table.name}: table options and schemas are not rendered")
    items = [_column(c, imports, extra) for c in table.columns]
    for con in sorted(table.constraints, key=lambda c: (type(c).__name__, str(c.name))):
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
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        imports.add("Index")
        args = [repr(str(index.name)), *(repr(c.name) for c in index.columns)]
        if index.unique:
            args.append("unique=True")
        items.append(f"Index({', '.join(args + _options(index, imports))})")
    body = "".join(f"    {item},\n" for item in items)
    return f"{table.name} = Table(\n    {table.name!r},\n    metadata,\n{body})\n"


def render(metadata: MetaData) -> str:
    """The source of `wfhost.store.tables` for ``metadata`` (every table, by name)."""
    imports = {"MetaData", "Table", "Column"}
    extra: set[str] = set()
    tables = [_table(metadata.tables[name], imports, extra) for name in sorted(metadata.tables)]
    convention = dict(metadata.naming_convention)
    names = sorted(metadata.tables)
    return (_HEADER
            + "from sqlalchemy import (\n" + "".join(f"    {name},\n" for name in sorted(imports)) + ")\n\n"
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
