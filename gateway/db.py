"""The SQL store's one declarative base and engine factory (SQLite embedded, PostgreSQL too).

Every gateway module that keeps rows (devices, dead letters, de-duplication marks,
work orders, detector checkpoints) declares its tables on :class:`Base`, so one
``create_schema`` call builds the whole store on either backend.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
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
    """Create every table declared on :class:`Base` (import the table modules first)."""
    Base.metadata.create_all(engine)
