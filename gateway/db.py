"""The SQL store's one declarative base and engine factory (SQLite embedded, PostgreSQL too).

Every gateway module that keeps rows (devices, dead letters, de-duplication marks,
work orders, detector checkpoints) declares its tables on :class:`Base`; the schema is
created and upgraded by Alembic migrations (:mod:`gateway.schema`) on either backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout so writers wait, not fail."""
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def create_schema(engine: Engine) -> None:
    """Bring the store to the newest schema revision (Alembic; once per engine).

    Every part that needs the store may ask; the migrations run once per engine (see
    :func:`gateway.schema.migrate`), and the composition root asks first.
    """
    from gateway.schema import migrate  # it imports every table module, which import this

    migrate(engine)


def upsert(
    connection: Connection, table: Any, keys: Sequence[str], rows: list[dict[str, Any]]
) -> None:
    """Insert ``rows``, or update every other column where ``keys`` already exist.

    SQLite and PostgreSQL spell it the same way (``ON CONFLICT ... DO UPDATE``), each
    through its own dialect's ``insert``.
    """
    if not rows:
        return
    assert isinstance(table, Table)
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    updated = {name: statement.excluded[name] for name in rows[0] if name not in keys}
    connection.execute(
        statement.on_conflict_do_update(index_elements=list(keys), set_=updated), rows
    )
