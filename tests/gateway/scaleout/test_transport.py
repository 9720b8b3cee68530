"""The partition transport on a real private RabbitMQ node: routing, order, confirms, acks."""

from __future__ import annotations

from collections import Counter, defaultdict

import pika
import pytest

from gateway.scaleout import (
    HandlerFailed,
    OutgoingMessage,
    PartitionConsumer,
    PartitionDelivery,
    PartitionPublisher,
    PublishNotConfirmed,
    Topology,
    TopologyMismatch,
    TransportUnavailable,
    declare_topology,
)
from gateway.scaleout.connection import connect_blocking
from tests.gateway.scaleout.helpers import (
    Recorder,
    assert_in_order_once,
    batches,
    consuming,
    fleet_messages,
    key,
    wait_until,
)
from tests.rabbitmq_server import RabbitMQ, free_port


def queue_depths(rabbitmq: RabbitMQ, topology: Topology) -> dict[str, int]:
    """Messages ready in each partition queue (AMQP passive declare: exact, not sampled)."""
    connection = connect_blocking(rabbitmq.url, name="test-depths")
    try:
        channel = connection.channel()
        return {
            name: int(channel.queue_declare(name, passive=True).method.message_count)
            for name in topology.queues
        }
    finally:
        connection.close()


def test_every_topic_of_a_device_lands_on_one_partition_in_order(
    rabbitmq: RabbitMQ, topology: Topology
) -> None:
    devices, per_device = 120, 8
    messages = fleet_messages(devices, per_device)
    recorder = Recorder()
    consumer = PartitionConsumer(
        rabbitmq.url,
        recorder,
        topology,
        on_partition_active=recorder.on_active,
        max_batch=100,
    )
    with PartitionPublisher(rabbitmq.url, topology) as publisher:
        for batch in batches(messages, 250):
            publisher.publish(batch)
        with consuming(consumer):
            wait_until(lambda: recorder.count() >= len(messages), 20, "all deliveries")
            owned = consumer.owned_partitions

    assert_in_order_once(recorder.keys(), per_device, devices)
    assert recorder.count() == len(messages)  # one consumer, no failure: no duplicate

    partitions_of: dict[str, set[int]] = defaultdict(set)
    topics_of: dict[str, set[str]] = defaultdict(set)
    for delivery in recorder.deliveries:
        partitions_of[delivery.device_id].add(delivery.partition)
        topics_of[delivery.device_id].add(delivery.topic.rsplit("/", 1)[-1])
        assert delivery.topic.split("/")[1] == delivery.device_id
        assert delivery.arrived_wall >= 1_700_000_000.0
    assert all(len(parts) == 1 for parts in partitions_of.values())
    assert all(len(kinds) == 4 for kinds in topics_of.values())  # birth/status/telemetry/events

    # Devices spread over the partitions (consistent hashing: even, not perfectly).
    per_partition = Counter(next(iter(parts)) for parts in partitions_of.values())
    assert set(per_partition) == set(range(topology.partitions))
    assert max(per_partition.values()) < devices / topology.partitions * 2.5

    # The hook ran once per partition, before any of that partition's deliveries.
    activated = [partition for partition, _ in recorder.activated]
    assert sorted(activated) == list(range(topology.partitions))
    first_seen: dict[int, int] = {}
    for index, delivery in enumerate(recorder.deliveries):
        first_seen.setdefault(delivery.partition, index)
    for partition, seen_before in recorder.activated:
        assert seen_before <= first_seen[partition]
    assert owned == frozenset(range(topology.partitions))
    assert sum(queue_depths(rabbitmq, topology).values()) == 0  # everything acked


def test_publish_returns_after_the_confirm(rabbitmq: RabbitMQ, topology: Topology) -> None:
    messages = fleet_messages(50, 4)
    with PartitionPublisher(rabbitmq.url, topology) as publisher:
        publisher.publish(messages)
        publisher.publish([])
    depths = queue_depths(rabbitmq, topology)
    assert len(depths) == topology.partitions
    assert sum(depths.values()) == len(messages)


def test_unroutable_batch_is_not_confirmed(rabbitmq: RabbitMQ, topology: Topology) -> None:
    connection = connect_blocking(rabbitmq.url, name="test")
    channel = connection.channel()
    channel.exchange_declare(topology.exchange, exchange_type="x-consistent-hash", durable=True)
    connection.close()
    message = OutgoingMessage("dev-1", "appliances/dev-1/telemetry", b"{}", 1.0)
    with (
        PartitionPublisher(rabbitmq.url, topology, declare=False) as publisher,
        pytest.raises(PublishNotConfirmed, match="unroutable"),
    ):
        publisher.publish([message])


def test_topology_is_idempotent_and_refuses_a_mismatch(
    rabbitmq: RabbitMQ, topology: Topology
) -> None:
    connection = connect_blocking(rabbitmq.url, name="test")
    try:
        declare_topology(connection, topology)
        declare_topology(connection, topology)
        listing = rabbitmq.ctl(
            "list_queues", "name", "type", "arguments", "--quiet", "--no-table-headers"
        ).stdout
        ours = [line for line in listing.splitlines() if line.startswith(topology.prefix)]
        assert len(ours) == topology.partitions
        assert all("quorum" in line and "x-single-active-consumer" in line for line in ours)
        # The ring has one bucket per queue (weight "1"), however often we declared.
        ring = rabbitmq.ctl(
            "eval",
            "{ok, {chx_hash_ring, _, Buckets, Next}} = "
            "rabbit_exchange_type_consistent_hash:ring_state("
            f'<<"/">>, <<"{topology.exchange}">>), '
            "{maps:size(Buckets), Next, length(lists:usort(maps:values(Buckets)))}.",
        ).stdout
        assert ring.strip() == "{8,8,8}"

        smaller = Topology(partitions=topology.partitions - 1, prefix=topology.prefix)
        with pytest.raises(TopologyMismatch, match="more than 7 partitions"):
            declare_topology(connection, smaller)

        other = Topology(partitions=2, prefix=f"{topology.prefix}-classic")
        channel = connection.channel()
        channel.queue_declare(other.queue(0), durable=True)
        with pytest.raises(TopologyMismatch, match="PRECONDITION_FAILED"):
            declare_topology(connection, other)
    finally:
        if connection.is_open:
            connection.close()


def test_unreachable_rabbitmq_is_one_readable_line() -> None:
    url = f"amqp://housecall:s3cret@127.0.0.1:{free_port()}/%2F"
    with pytest.raises(TransportUnavailable) as publisher_error:
        PartitionPublisher(url).start()
    consumer = PartitionConsumer(url, lambda batch: None)
    with pytest.raises(TransportUnavailable) as consumer_error:
        consumer.connect()
    for error in (publisher_error.value, consumer_error.value):
        text = str(error)
        assert "\n" not in text
        assert "s3cret" not in text
        assert text.startswith("cannot reach RabbitMQ at amqp://housecall:***@127.0.0.1:")
        assert "connection refused" in text


def test_a_failing_handler_acks_nothing(rabbitmq: RabbitMQ, topology: Topology) -> None:
    messages = fleet_messages(10, 3)

    def explode(batch: object) -> None:
        raise OSError("disk full")

    with PartitionPublisher(rabbitmq.url, topology) as publisher:
        publisher.publish(messages)
    failing = PartitionConsumer(rabbitmq.url, explode, topology)
    failing.connect()
    with pytest.raises(HandlerFailed, match="disk full") as failure:
        failing.run()
    assert isinstance(failure.value.__cause__, OSError)
    assert failing.acked == 0

    recorder = Recorder()
    with consuming(PartitionConsumer(rabbitmq.url, recorder, topology)):
        wait_until(lambda: recorder.count() >= len(messages), 20, "redeliveries")
    assert sorted(recorder.keys()) == sorted(key_of(m) for m in messages)
    assert any(delivery.redelivered for delivery in recorder.deliveries)


def key_of(message: OutgoingMessage) -> tuple[str, int]:
    return key(
        PartitionDelivery(0, 0, message.device_id, message.topic, message.payload, 0.0, False)
    )


def test_a_connection_refused_by_credentials_names_the_cause(rabbitmq: RabbitMQ) -> None:
    url = rabbitmq.url.replace("guest:guest", "guest:wrong")
    with pytest.raises(TransportUnavailable, match="login refused"):
        PartitionPublisher(url).start()
    assert pika  # the client library the transport is built on
