"""Service-quality tests run on both SQL backends (real PostgreSQL too)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.gateway.workorders.helpers import fresh_engine


@pytest.fixture
def db_url(database_url: str) -> str:
    """SQLite and a real PostgreSQL, from ``tests/gateway/conftest.py``."""
    return database_url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = fresh_engine(db_url)
    yield engine
    engine.dispose()
