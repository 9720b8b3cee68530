"""The pipeline's journey on the in-memory store: no database, so every case runs in ms.

The real stores keep the same promises (``test_store_contract.py``); the SQL-backed
pipeline tests in ``test_pipeline.py`` check what lands in the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from detectors.api import Signal
from gateway.pipeline import DeviceInfo, Pipeline, RawMessage
from gateway.storage import StorageUnavailable
from tests.gateway.fake_store import InMemoryStore
from tests.gateway.helpers import birth, cycle_end, raw, telemetry


def opened(store: InMemoryStore) -> Pipeline:
    pipeline = Pipeline(store)
    pipeline.open()
    return pipeline


def test_duplicates_are_dropped_across_a_restart_and_new_seqs_stored() -> None:
    store = InMemoryStore()
    opened(store).process([raw(telemetry("ac-1", seq)) for seq in range(5)])
    restarted = opened(store.reopen())
    result = restarted.process([raw(telemetry("ac-1", seq)) for seq in range(3, 8)])
    assert (result.duplicates, result.telemetry) == (2, 3)
    assert store.stored("ac-1") == list(range(8))


def test_a_malformed_message_is_a_dead_letter_and_its_neighbours_are_stored() -> None:
    store = InMemoryStore()
    batch = [
        raw(telemetry("ac-1", 0)),
        RawMessage("appliances/ac-1/telemetry", b"{not json", 1.0),
        raw(telemetry("ac-1", 1)),
    ]
    result = opened(store).process(batch)
    assert result.dead_letters == {"not_json": 1}
    assert [row["reason"] for row in store.memory.dead_letters] == ["not_json"]
    assert store.stored("ac-1") == [0, 1]


def test_a_store_that_is_down_is_retried_and_the_batch_stored_once() -> None:
    store = InMemoryStore()
    store.fail_next = 3
    pipeline = opened(store)
    pipeline.process([raw(telemetry("wm-1", seq)) for seq in range(4)])
    assert pipeline.metrics.storage_retries._value.get() == 3
    assert store.stored("wm-1") == [0, 1, 2, 3]
    assert store.commits == 1


def test_giving_up_keeps_nothing_so_the_redelivered_batch_is_new() -> None:
    store = InMemoryStore()
    store.fail_next = 1
    pipeline = opened(store)
    pipeline.stop()
    batch = [raw(birth("ac-1")), *(raw(telemetry("ac-1", seq)) for seq in range(3))]
    with pytest.raises(StorageUnavailable):
        pipeline.process(batch)
    assert store.memory.devices == {}
    assert pipeline.registry.info("ac-1") is None
    result = pipeline.process(batch)
    assert (result.telemetry, result.duplicates) == (3, 0)


def test_the_sink_sees_every_accepted_message_in_order_after_it_is_stored() -> None:
    store = InMemoryStore()
    seen: list[tuple[str, datetime, int]] = []

    class Sink:
        def handle(self, device: DeviceInfo, ts: datetime, signals: Sequence[Signal]) -> None:
            seen.append((device.device_id, ts, store.commits))

    pipeline = Pipeline(store, sink=Sink())
    pipeline.open()
    pipeline.process(
        [raw(telemetry("ac-1", 0)), raw(cycle_end("wm-1", 0)), raw(telemetry("ac-1", 0))]
    )
    assert [(device, commits) for device, _, commits in seen] == [("ac-1", 1), ("wm-1", 1)]
