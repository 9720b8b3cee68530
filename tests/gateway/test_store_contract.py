"""One contract, two stores: the in-memory fake the pipeline's tests use and the real one.

Each check runs against :class:`tests.gateway.fake_store.InMemoryStore` and against
:class:`gateway.storage.BatchStorage` on SQLite and on a real PostgreSQL, so the fake
cannot drift from what the pipeline really gets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from gateway.db import make_engine
from gateway.pipeline import Pipeline
from gateway.storage import BatchStorage, BatchStore, BatchWrite
from tests.gateway.fake_store import InMemoryStore
from tests.gateway.helpers import birth, raw, telemetry

Reopen = Callable[[], BatchStore]


@pytest.fixture(params=["fake", "sqlite", "postgresql"])
def reopen(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Reopen]:
    """A function that opens the store again over the same data (a process restart)."""
    if request.param == "fake":
        first = InMemoryStore()
        yield first.reopen
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'gw.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    engines = []

    def open_real() -> BatchStore:
        engine = make_engine(url)
        engines.append(engine)
        return BatchStorage(engine, gateway_id="gw-contract")

    yield open_real
    for engine in engines:
        engine.dispose()


def test_a_reopened_store_gives_back_what_committed_batches_left(reopen: Reopen) -> None:
    store = reopen()
    pipeline = Pipeline(store)
    pipeline.open()
    pipeline.process([raw(birth("ac-1")), *(raw(telemetry("ac-1", seq)) for seq in range(5))])
    pipeline.process([raw(telemetry("ac-1", seq)) for seq in (5, 6)])

    again = reopen()
    assert again.recover() == 2
    assert again.next_batch_id() == 3
    (device,) = again.device_rows()
    assert device["device_id"] == "ac-1"
    assert device["kind"] == "ac"
    assert device["telemetry_messages"] == 7
    marks = {row["stream"]: row["high_water"] for row in again.mark_rows()}
    assert marks == {"t": 6}


def test_batches_commit_in_order_only(reopen: Reopen) -> None:
    store = reopen()
    store.recover()
    with pytest.raises(ValueError, match="out of order"):
        store.commit(BatchWrite(batch_id=store.next_batch_id() + 1))
    store.commit(BatchWrite(batch_id=store.next_batch_id()))
    assert reopen().recover() == 1
