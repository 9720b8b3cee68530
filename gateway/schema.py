"""The SQL store's schema: every table, and the one way it is created or upgraded.

Every module that keeps rows declares its tables on :data:`gateway.db.Base`;
:func:`metadata` imports them all, so Alembic (``gateway/migrations``) sees the whole
store. :func:`migrate` brings a database to the newest revision: a new database gets
every table, an older one its missing migrations, and a store made before migrations
existed (tables, no ``alembic_version``) is recognised as the first revision and
upgraded from there. It runs once per engine however many parts ask for it.

A schema change is a new revision::

    .venv/bin/alembic -c gateway/migrations/alembic.ini revision --autogenerate -m "what"
"""

from __future__ import annotations

import logging
import threading
import weakref
from pathlib import Path

from sqlalchemy import Engine, MetaData, inspect

from gateway.db import Base

MIGRATIONS = Path(__file__).with_name("migrations")
#: The revision that matches the tables of a store created before migrations existed.
BASELINE_REVISION = "0001"

_migrated: weakref.WeakSet[Engine] = weakref.WeakSet()
_lock = threading.Lock()


def metadata() -> MetaData:
    """Every table of the store (importing each table module registers it)."""
    import gateway.checkpoints.tables
    import gateway.deadletters
    import gateway.dedup
    import gateway.device_table
    import gateway.quality.tables
    import gateway.storage
    import gateway.timeseries.embedded
    import gateway.workorders.tables  # noqa: F401 - imported for their tables

    return Base.metadata


def alembic_config(engine: Engine | None = None) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def migrate(engine: Engine) -> None:
    """Bring ``engine``'s database to the newest revision (once per engine)."""
    with _lock:
        if engine in _migrated:
            return
        # Alembic narrates every step at INFO (from its import on); a gateway's log, and a
        # one-line error when the database is unreachable, should not carry that.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        from alembic import command

        metadata()
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection  # type: ignore[attr-defined]
            tables = set(inspect(connection).get_table_names())
            if "alembic_version" not in tables and "work_orders" in tables:
                command.stamp(config, BASELINE_REVISION)  # type: ignore[arg-type]
            command.upgrade(config, "head")  # type: ignore[arg-type]
        _migrated.add(engine)
