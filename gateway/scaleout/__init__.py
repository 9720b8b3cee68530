"""Scale-out transport on RabbitMQ: devices partitioned over quorum queues, one worker each.

- :class:`Topology` / :func:`declare_topology`: the consistent-hash exchange and
  the N single-active-consumer quorum queues (``HOUSECALL_PARTITIONS``);
- :class:`PartitionPublisher`: the ingest publishes validated MQTT messages keyed
  by device id and acks MQTT only after RabbitMQ's confirm;
- :class:`PartitionConsumer`: a worker consumes every partition it is given and
  acks after its durable write; partitions move when a worker dies.

See ``docs/scale-out.md`` for the design.
"""

from gateway.scaleout.config import DEFAULT_PARTITIONS, ScaleOutSettings
from gateway.scaleout.consumer import PartitionConsumer, PartitionDelivery
from gateway.scaleout.errors import (
    HandlerFailed,
    PublishNotConfirmed,
    ScaleOutError,
    TopologyMismatch,
    TransportUnavailable,
)
from gateway.scaleout.publisher import OutgoingMessage, PartitionPublisher
from gateway.scaleout.topology import Topology, declare_topology

__all__ = [
    "DEFAULT_PARTITIONS",
    "HandlerFailed",
    "OutgoingMessage",
    "PartitionConsumer",
    "PartitionDelivery",
    "PartitionPublisher",
    "PublishNotConfirmed",
    "ScaleOutError",
    "ScaleOutSettings",
    "Topology",
    "TopologyMismatch",
    "TransportUnavailable",
    "declare_topology",
]
