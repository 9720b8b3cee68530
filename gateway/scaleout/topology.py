"""The RabbitMQ objects of a partitioned fleet, declared idempotently by every process.

- ``<prefix>.devices``: a consistent-hash exchange (plugin
  ``rabbitmq_consistent_hash_exchange``, shipped with RabbitMQ). It hashes the
  whole routing key, which the ingest sets to the device id, so every topic of a
  device lands on the same partition.
- ``<prefix>.partition.<i>`` for i in 0..N-1: durable quorum queues (replicated,
  fsynced before the publisher confirm) with single-active-consumer, so each
  partition is processed by exactly one live consumer, in order, and handed to a
  waiting one when that consumer's connection dies.
- each queue is bound with the same weight (binding key ``"1"``): equal shares
  of the hash ring.
"""

from __future__ import annotations

from dataclasses import dataclass

import pika
import pika.exceptions

from gateway.scaleout.config import DEFAULT_PARTITIONS
from gateway.scaleout.errors import TopologyMismatch

EXCHANGE_TYPE = "x-consistent-hash"
#: Binding key of every partition queue: its weight on the hash ring.
BINDING_WEIGHT = "1"
QUEUE_ARGUMENTS: dict[str, object] = {
    "x-queue-type": "quorum",
    "x-single-active-consumer": True,
}
_NOT_FOUND = 404


@dataclass(frozen=True, slots=True)
class Topology:
    """Names of the exchange and partition queues; the same in every process of a fleet."""

    partitions: int = DEFAULT_PARTITIONS
    prefix: str = "housecall"

    def __post_init__(self) -> None:
        if not 1 <= self.partitions <= 1024:
            raise ValueError(f"partitions must be in 1..1024, got {self.partitions}")

    @property
    def exchange(self) -> str:
        return f"{self.prefix}.devices"

    def queue(self, partition: int) -> str:
        return f"{self.prefix}.partition.{partition}"

    @property
    def queues(self) -> tuple[str, ...]:
        return tuple(self.queue(i) for i in range(self.partitions))


def declare_topology(connection: pika.BlockingConnection, topology: Topology) -> None:
    """Declare the exchange, the queues and their bindings (a no-op when they exist).

    Raises :class:`TopologyMismatch` when an object exists with other settings
    (e.g. a classic queue of the same name), when the broker lacks the
    consistent-hash plugin, or when queue ``N`` exists: the fleet was declared
    with more partitions, and the extra queues would keep receiving devices
    that no process of ours consumes.
    """
    try:
        channel = connection.channel()
        channel.exchange_declare(topology.exchange, exchange_type=EXCHANGE_TYPE, durable=True)
        for name in topology.queues:
            channel.queue_declare(name, durable=True, arguments=QUEUE_ARGUMENTS)
            channel.queue_bind(name, topology.exchange, routing_key=BINDING_WEIGHT)
        channel.close()
    except pika.exceptions.ChannelClosedByBroker as error:
        raise TopologyMismatch(
            f"RabbitMQ refused the partition topology ({topology.exchange}): "
            f"{error.reply_text} ({error.reply_code})"
        ) from error
    except pika.exceptions.ConnectionClosedByBroker as error:
        hint = (
            ": enable the plugin rabbitmq_consistent_hash_exchange"
            if "exchange type" in error.reply_text
            else ""
        )
        raise TopologyMismatch(
            f"RabbitMQ refused the partition topology: {error.reply_text}{hint}"
        ) from error
    _refuse_extra_partition(connection, topology)


def _refuse_extra_partition(connection: pika.BlockingConnection, topology: Topology) -> None:
    extra = topology.queue(topology.partitions)
    channel = connection.channel()
    try:
        channel.queue_declare(extra, passive=True)
    except pika.exceptions.ChannelClosedByBroker as error:
        if error.reply_code == _NOT_FOUND:
            return
        raise
    channel.close()
    raise TopologyMismatch(
        f"queue {extra} exists: this fleet was declared with more than "
        f"{topology.partitions} partitions; every process must use the same partition count"
    )
