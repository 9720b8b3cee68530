"""Partitions move when a worker dies or RabbitMQ restarts; nothing confirmed is lost.

The checks are the architecture's: after de-duplication by (device, seq) every
message was processed exactly once, at least once overall, and in order per
device (processing order: the dead worker's records, then the survivor's).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from gateway.scaleout import (
    OutgoingMessage,
    PartitionConsumer,
    PartitionPublisher,
    PublishNotConfirmed,
    Topology,
)
from tests.gateway.scaleout.helpers import (
    Recorder,
    assert_in_order_once,
    batches,
    consuming,
    fleet_messages,
    wait_until,
)
from tests.rabbitmq_server import RabbitMQ


def read_records(path: Path) -> list[tuple[int, str, int, bool]]:
    records = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) == 4:  # a line cut by SIGKILL is not a record
            records.append((int(fields[0]), fields[1], int(fields[2]), fields[3] == "1"))
    return records


@pytest.mark.slow
def test_sigkilled_worker_hands_its_partitions_to_the_survivor(
    rabbitmq: RabbitMQ, topology: Topology, tmp_path: Path
) -> None:
    devices, per_device = 40, 100
    out = tmp_path / "worker-a.txt"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.gateway.scaleout.worker_process",
            rabbitmq.url,
            topology.prefix,
            str(topology.partitions),
            str(out),
            "0.02",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "subscribed"
        # B registers after A on every queue: A is active everywhere, B waits.
        survivor = Recorder()
        consumer = PartitionConsumer(
            rabbitmq.url,
            survivor,
            topology,
            name="survivor",
            on_partition_active=survivor.on_active,
        )
        with consuming(consumer):
            with PartitionPublisher(rabbitmq.url, topology) as publisher:
                for batch in batches(fleet_messages(devices, per_device), 200):
                    publisher.publish(batch)
            wait_until(lambda: len(read_records(out)) >= 800, 30, "worker A to be mid-stream")
            assert survivor.count() == 0  # single active consumer: A had every partition
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            killed_after = len(read_records(out))
            wait_until(
                lambda: (
                    len(set(survivor.keys()) | {(d, s) for _, d, s, _ in read_records(out)})
                    == devices * per_device
                ),
                60,
                "the survivor to finish the stream",
            )
            owned = consumer.owned_partitions
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        if worker.stdout is not None:
            worker.stdout.close()

    first = read_records(out)
    assert 800 <= killed_after == len(first) < devices * per_device
    order = [(device, seq) for _, device, seq, _ in first] + survivor.keys()
    duplicates = assert_in_order_once(order, per_device, devices)
    # What A processed but had not acked when it died came again (at least once).
    assert any(delivery.redelivered for delivery in survivor.deliveries)
    assert owned == {delivery.partition for delivery in survivor.deliveries}
    assert len(owned) == topology.partitions
    assert sorted(p for p, _ in survivor.activated) == sorted(owned)
    print(f"A processed {len(first)}, survivor {survivor.count()}, duplicates {duplicates}")


def test_a_stopped_worker_hands_over_cleanly(rabbitmq: RabbitMQ, topology: Topology) -> None:
    devices, per_device = 20, 30
    first, second = Recorder(delay_s=0.01), Recorder()
    a = PartitionConsumer(rabbitmq.url, first, topology, name="a", max_batch=20, prefetch=20)
    b = PartitionConsumer(rabbitmq.url, second, topology, name="b")
    with consuming(a), consuming(b):
        with PartitionPublisher(rabbitmq.url, topology) as publisher:
            publisher.publish(fleet_messages(devices, per_device))
        wait_until(lambda: first.count() >= 100, 20, "A to be mid-stream")
        a.stop()
        wait_until(
            lambda: len(set(first.keys()) | set(second.keys())) == devices * per_device,
            30,
            "B to finish the stream",
        )
    assert first.count() < devices * per_device
    assert_in_order_once(first.keys() + second.keys(), per_device, devices)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["stop", "kill"])
def test_rabbitmq_restart_loses_nothing_confirmed(
    rabbitmq_factory: Callable[[], RabbitMQ], how: str
) -> None:
    node = rabbitmq_factory()
    topology = Topology(partitions=4, prefix="restart")
    devices, per_device = 50, 40
    messages = fleet_messages(devices, per_device)
    half = len(messages) // 2
    recorder = Recorder(delay_s=0.005)
    consumer = PartitionConsumer(
        node.url, recorder, topology, name="restart", max_batch=50, prefetch=50
    )
    publisher = PartitionPublisher(node.url, topology, confirm_timeout_s=10)
    with consuming(consumer):
        publisher.start()
        # RabbitMQ 3.10 (ra 2.2) can lose a quorum queue *created* within about a
        # second of a node crash (it comes back empty or leaderless; measured, see
        # docs/scale-out.md). A fleet's queues are created once, long before any
        # crash; this test is about messages, so let the new queues settle.
        time.sleep(2)
        for batch in batches(messages[:half], 250):
            publisher.publish(batch)
        wait_until(lambda: recorder.count() >= 200, 20, "consumption to start")
        if how == "stop":
            node.stop()
        else:
            node.kill()
        with pytest.raises(PublishNotConfirmed):
            publisher.publish(messages[half : half + 10])
        node.start()
        for batch in batches(messages[half:], 250):
            deadline = time.monotonic() + 60
            while True:  # the ingest's retry: MQTT redelivers what was not acked
                try:
                    publisher.publish(batch)
                    break
                except PublishNotConfirmed:
                    assert time.monotonic() < deadline, "publisher did not reconnect"
                    time.sleep(0.2)
        wait_until(
            lambda: len(set(recorder.keys())) == len(messages), 60, "every confirmed message"
        )
        publisher.close()
    assert consumer.reconnects >= 1
    keys = recorder.keys()
    assert set(keys) == {key_of(message) for message in messages}  # nothing confirmed lost
    if how == "stop":
        assert_in_order_once(keys, per_device, devices)
    else:
        # After a broker *crash* RabbitMQ 3.10 may hand a reconnected consumer newer
        # messages before the ones the dead connection held (see docs/scale-out.md):
        # count it rather than hide it.
        late = late_deliveries(keys)
        print(
            f"kill: {len(keys)} deliveries, {len(keys) - len(set(keys))} duplicates, "
            f"{late} older than one already processed"
        )


def key_of(message: OutgoingMessage) -> tuple[str, int]:
    body = orjson.loads(message.payload)
    return str(body["device"]), int(body["seq"])


def late_deliveries(keys: list[tuple[str, int]]) -> int:
    """First deliveries of a (device, seq) that came after a higher seq of that device."""
    high: dict[str, int] = {}
    seen: set[tuple[str, int]] = set()
    late = 0
    for device, seq in keys:
        if (device, seq) not in seen and seq < high.get(device, -1):
            late += 1
        seen.add((device, seq))
        high[device] = max(high.get(device, -1), seq)
    return late
