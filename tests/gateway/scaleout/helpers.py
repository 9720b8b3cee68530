"""A simulated fleet's messages and a recording handler for the scale-out tests."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import orjson

from gateway.scaleout import OutgoingMessage, PartitionConsumer, PartitionDelivery

KINDS = ("birth", "status", "telemetry", "events")


def fleet_messages(devices: int, per_device: int) -> list[OutgoingMessage]:
    """``per_device`` messages per device, interleaved across devices, cycling topic kinds."""
    messages = []
    for seq in range(per_device):
        for index in range(devices):
            device = f"dev-{index:04d}"
            kind = KINDS[seq % len(KINDS)]
            messages.append(
                OutgoingMessage(
                    device_id=device,
                    topic=f"appliances/{device}/{kind}",
                    payload=orjson.dumps({"device": device, "seq": seq}),
                    arrived_wall=1_700_000_000.0 + seq,
                )
            )
    return messages


def batches(messages: Sequence[OutgoingMessage], size: int) -> Iterator[Sequence[OutgoingMessage]]:
    for start in range(0, len(messages), size):
        yield messages[start : start + size]


def key(delivery: PartitionDelivery) -> tuple[str, int]:
    body = orjson.loads(delivery.payload)
    return str(body["device"]), int(body["seq"])


class Recorder:
    """A handler that records every delivery (thread-safe) and the hooks' calls."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.deliveries: list[PartitionDelivery] = []
        self.activated: list[tuple[int, int]] = []  # (partition, deliveries seen before)
        self.lost: list[frozenset[int]] = []
        self.lock = threading.Lock()

    def __call__(self, batch: Sequence[PartitionDelivery]) -> None:
        if self.delay_s:
            time.sleep(self.delay_s)
        with self.lock:
            self.deliveries.extend(batch)

    def on_active(self, partition: int) -> None:
        with self.lock:
            self.activated.append((partition, len(self.deliveries)))

    def on_lost(self, partitions: frozenset[int]) -> None:
        with self.lock:
            self.lost.append(partitions)

    def keys(self) -> list[tuple[str, int]]:
        with self.lock:
            return [key(d) for d in self.deliveries]

    def count(self) -> int:
        with self.lock:
            return len(self.deliveries)


@contextlib.contextmanager
def consuming(consumer: PartitionConsumer) -> Iterator[PartitionConsumer]:
    """Run ``consumer`` on a thread (connected first, so errors surface here)."""
    consumer.connect()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            consumer.run()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, name="test-consumer", daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        consumer.stop()
        thread.join(15)
    assert not thread.is_alive(), "consumer did not stop"
    if errors:
        raise errors[0]


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


def assert_in_order_once(
    keys_in_processing_order: Sequence[tuple[str, int]], per_device: int, devices: int
) -> int:
    """Every (device, seq) processed, none skipped: after de-duplication each device's
    sequence is 0, 1, 2, ... in processing order. Returns the number of duplicates."""
    high: dict[str, int] = {}
    duplicates = 0
    for device, seq in keys_in_processing_order:
        top = high.get(device, -1)
        if seq <= top:
            duplicates += 1
            continue
        assert seq == top + 1, f"{device}: seq {seq} after {top} (skipped or out of order)"
        high[device] = seq
    assert len(high) == devices
    assert all(top == per_device - 1 for top in high.values()), "a device is missing messages"
    return duplicates
