"""Alembic's entry point for the gateway's store (see :mod:`gateway.schema`).

:func:`gateway.schema.migrate` hands over an open connection; the ``alembic`` command
line (for a new revision) connects to ``sqlalchemy.url`` from ``alembic.ini``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from gateway.schema import metadata

config = context.config
target_metadata = metadata()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as opened:
        _migrate(opened)
    engine.dispose()


def _migrate(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
