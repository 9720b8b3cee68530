"""The store's schema comes from Alembic migrations, on SQLite and on a real PostgreSQL.

* a new database migrated to head has exactly the tables the code declares (no drift
  between the models and the migrations: a model change without a revision fails here);
* a store created before migrations existed (the first revision's tables, no version
  table) is recognised and upgraded, keeping its rows;
* migrating again is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from gateway.db import create_schema, make_engine
from gateway.schema import metadata, migrate

DETECTOR_TABLES = {"detector_journal", "detector_shared", "detector_states"}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def drift(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata()))


def test_a_new_store_migrated_to_head_matches_the_models(engine: Engine) -> None:
    create_schema(engine)
    assert drift(engine) == []
    tables = set(inspect(engine).get_table_names())
    assert {"work_orders", "devices", *DETECTOR_TABLES} <= tables
    create_schema(engine)  # once per engine: a no-op


def test_a_store_from_before_migrations_is_upgraded_keeping_its_rows(database_url: str) -> None:
    old = make_engine(database_url)
    tables = [t for name, t in metadata().tables.items() if name not in DETECTOR_TABLES]
    metadata().create_all(old, tables=tables)  # what create_all made before migrations
    with old.begin() as connection:
        connection.execute(
            text("INSERT INTO ingest_checkpoints VALUES ('gw', 41, CURRENT_TIMESTAMP)")
        )
    old.dispose()

    engine = make_engine(database_url)
    migrate(engine)
    assert drift(engine) == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT last_batch FROM ingest_checkpoints")).scalar() == 41
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == "0002"
    engine.dispose()
