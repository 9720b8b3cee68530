"""``take_batch``: the pipeline's batches, with and without a linger (no broker needed)."""

from __future__ import annotations

import queue
import threading
import time

from gateway.ingest import Delivery, take_batch
from gateway.metrics import GatewayMetrics
from gateway.pipeline import RawMessage


def _delivery(number: int) -> Delivery:
    return Delivery(RawMessage("appliances/ac-1/telemetry", b"{}", 0.0), number, 1, 1)


def test_without_linger_a_batch_is_what_was_queued() -> None:
    deliveries: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
    for number in range(5):
        deliveries.put(_delivery(number))
    batch = take_batch(deliveries, 3, 0.1, GatewayMetrics())
    assert [d.mid for d in batch] == [0, 1, 2]
    assert [d.mid for d in take_batch(deliveries, 10, 0.1, GatewayMetrics())] == [3, 4]
    assert take_batch(deliveries, 10, 0.01, GatewayMetrics()) == []


def test_a_linger_gathers_what_arrives_soon_after_the_first_and_stops_at_its_end() -> None:
    deliveries: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
    deliveries.put(_delivery(0))

    def trickle() -> None:
        for number in range(1, 4):
            time.sleep(0.02)
            deliveries.put(_delivery(number))
        time.sleep(1.0)
        deliveries.put(_delivery(99))

    feeder = threading.Thread(target=trickle)
    feeder.start()
    started = time.monotonic()
    batch = take_batch(deliveries, 100, 0.1, GatewayMetrics(), linger_s=0.5)
    waited = time.monotonic() - started
    feeder.join()
    assert [d.mid for d in batch] == [0, 1, 2, 3]  # the late one is the next batch's
    assert waited >= 0.45  # it did wait for the trickle


def test_a_full_batch_does_not_wait_for_the_linger() -> None:
    deliveries: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
    for number in range(4):
        deliveries.put(_delivery(number))
    started = time.monotonic()
    assert len(take_batch(deliveries, 4, 0.1, GatewayMetrics(), linger_s=5.0)) == 4
    assert time.monotonic() - started < 4.0
