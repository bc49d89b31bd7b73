"""Bulk inserts for large generated or imported row sets.

SQLAlchemy's per-row parameter building dominates a 100k-row insert; this applies each
column's own bind processor (so values are stored exactly as the ORM would store them) and
hands the driver one `executemany`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Dialect, Enum, Table
from sqlalchemy.orm import Session

from core.models import UtcDateTime

CHUNK_ROWS = 50_000


def _sqlite_utc(value: datetime | None) -> str | None:
    """The exact text SQLAlchemy's SQLite DATETIME stores, without its per-value overhead."""
    if value is None:
        return None
    if value.tzinfo is UTC:
        return value.isoformat(" ", "microseconds")[:26]
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: store timezone-aware times only")
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def _json(value: Any) -> str:
    return "[]" if value == [] else json.dumps(value)


def _processor(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """A fast converter for the hot SQLite types; otherwise the column type's own processor."""
    if dialect.name == "sqlite":
        if isinstance(column.type, UtcDateTime):
            return _sqlite_utc
        if isinstance(column.type, Enum) and issubclass(column.type.enum_class or int, StrEnum):
            return None  # a StrEnum member is its value's string already
        if isinstance(column.type, JSON):
            return _json
    return column.type.dialect_impl(dialect).bind_processor(dialect)


Row = dict[str, Any]
"""One row for `bulk_insert`: column name -> value, as SQLAlchemy's insert takes it."""


def bulk_insert(session: Session, table: Table, rows: Sequence[Row]) -> None:
    """Insert `rows` (dicts keyed by column name) inside the session's transaction.

    Every row must carry every column named by the first row; missing columns raise KeyError.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    columns = [table.c[name] for name in rows[0]]
    processors = [_processor(c, dialect) for c in columns]
    names = [c.name for c in columns]
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in columns)
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    sql = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({quoted}) VALUES ({marks})"
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        columns_values = []
        for name, process in zip(names, processors, strict=True):
            values = [row[name] for row in chunk]
            columns_values.append(list(map(process, values)) if process else values)
        connection.exec_driver_sql(sql, list(zip(*columns_values, strict=True)))
