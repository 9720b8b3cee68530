"""Worker side: consume every partition queue, process batches, ack after the handler returns.

Each worker process subscribes to *all* partition queues. The queues are
single-active-consumer, so RabbitMQ delivers each queue to exactly one live
consumer (the first that subscribed) and keeps the others waiting; when the
active consumer's connection dies, its unacknowledged messages go back to the
head of the queue and the next waiting consumer gets the queue, in order.

A consumer learns that it owns a partition when the partition's first delivery
arrives (AMQP 0-9-1 has no "you are now active" signal). Before that delivery
is handed to the handler, :attr:`on_partition_active` is called, so the caller
can restore the partition's devices' state from its checkpoint first. After a
reconnect the consumer may have lost partitions to another worker and regained
them: the hook runs again (and :attr:`on_partitions_lost` runs at the loss).

Order: per partition, deliveries arrive in queue order, and a handover (crash or
:meth:`stop`) returns the old owner's unacked messages before newer ones. One
exception, measured on 3.10: after a RabbitMQ *crash* the reconnected consumer
may get newer messages before those the dead connection held (see
docs/scale-out.md), so de-duplicate by (device, seq) membership.

Acks flow back only after the handler returned, so a worker that dies (or whose
handler raises) leaves the batch unacknowledged and it is redelivered, possibly
to another worker: the caller de-duplicates by (device, seq).

Leaving is abrupt on purpose: a clean AMQP close makes pika send
``basic.cancel`` for each consumer before ``channel.close``. On a 3.10 quorum
queue the cancel hands the queue to the next waiting consumer at once, while
our unacked messages are returned only at the channel close, *after* newer
messages went to the new owner: a device's messages would be processed out of
order (measured: ``test_a_stopped_worker_hands_over_cleanly``). A dropped TCP
connection is handled like a crash: RabbitMQ returns the unacked messages to the
head of the queue and then activates the next consumer, in order. So
:meth:`PartitionConsumer.stop` and a failing handler shut the socket down.

Threading: a pika ``BlockingConnection`` is not thread-safe, so the connection,
its channels, the handler and the acks all run on the thread that calls
:meth:`PartitionConsumer.run`; :meth:`stop` only sets a flag that the loop reads
at least every ``poll_s``. A long handler delays heartbeats: keep a batch's work
well under the heartbeat timeout (2 x 15 s by default).
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import pika
import pika.exceptions

from gateway.scaleout.connection import connect_blocking, describe_error, redact
from gateway.scaleout.errors import HandlerFailed, TransportUnavailable
from gateway.scaleout.publisher import ARRIVED_HEADER, TOPIC_HEADER
from gateway.scaleout.topology import Topology, declare_topology

log = logging.getLogger(__name__)

#: Errors that mean "the connection is gone": reconnect, the broker redelivers.
_CONNECTION_ERRORS = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.AMQPChannelError,
    OSError,
)


@dataclass(frozen=True, slots=True)
class PartitionDelivery:
    """One message from a partition queue; ``delivery_tag`` is per partition channel."""

    partition: int
    delivery_tag: int
    device_id: str
    topic: str
    payload: bytes
    arrived_wall: float
    redelivered: bool


Handler = Callable[[Sequence[PartitionDelivery]], None]
PartitionHook = Callable[[int], None]
LostHook = Callable[[frozenset[int]], None]


class PartitionConsumer:
    """Consumes all partitions of ``topology`` on one connection; see the module docstring.

    ``handler`` gets batches of at most ``max_batch`` deliveries, in arrival
    order (so in order per partition and per device); a batch is acked when the
    handler returns. An exception from the handler or a hook closes the
    connection (nothing of the batch is acked) and is re-raised by :meth:`run`.
    """

    def __init__(
        self,
        url: str,
        handler: Handler,
        topology: Topology | None = None,
        *,
        name: str = "housecall-worker",
        prefetch: int = 500,
        max_batch: int = 1000,
        linger_s: float = 0.02,
        poll_s: float = 0.1,
        on_partition_active: PartitionHook | None = None,
        on_partitions_lost: LostHook | None = None,
        reconnect: bool = True,
        declare: bool = True,
    ) -> None:
        self.url = url
        self.handler = handler
        self.topology = topology or Topology()
        self.name = name
        self.prefetch = prefetch
        self.max_batch = max_batch
        self.linger_s = linger_s
        self.poll_s = poll_s
        self.on_partition_active = on_partition_active
        self.on_partitions_lost = on_partitions_lost
        self.reconnect = reconnect
        self.declare = declare
        self._stop = threading.Event()
        self._connection: pika.BlockingConnection | None = None
        self._channels: dict[int, Any] = {}
        self._buffer: list[PartitionDelivery] = []
        self._buffer_since = 0.0
        self._owned: frozenset[int] = frozenset()
        self._subscribed = threading.Event()
        #: Batches handled and messages acked since construction (for tests and metrics).
        self.batches = 0
        self.acked = 0
        self.reconnects = 0

    @property
    def owned_partitions(self) -> frozenset[int]:
        """Partitions this consumer received deliveries from on its current connection."""
        return self._owned

    @property
    def subscribed(self) -> threading.Event:
        """Set once every partition queue has this consumer registered (active or waiting)."""
        return self._subscribed

    def stop(self) -> None:
        """Ask :meth:`run` to return (thread-safe); unacked deliveries go back to the queues."""
        self._stop.set()

    def connect(self) -> None:
        """Open the connection and subscribe; raises :class:`TransportUnavailable` at once.

        Called by :meth:`run` when not called before; call it first to fail fast
        at process start (one readable line, then exit non-zero).
        """
        connection = connect_blocking(self.url, name=self.name)
        try:
            if self.declare:
                declare_topology(connection, self.topology)
            channels: dict[int, Any] = {}
            for partition, queue in enumerate(self.topology.queues):
                channel = connection.channel()
                channel.basic_qos(prefetch_count=self.prefetch)
                channel.basic_consume(
                    queue,
                    partial(self._on_message, partition),
                    consumer_tag=f"{self.name}.{partition}",
                )
                channels[partition] = channel
        except BaseException:
            if connection.is_open:
                connection.close()
            raise
        self._connection = connection
        self._channels = channels
        self._subscribed.set()

    def run(self) -> None:
        """Consume until :meth:`stop`; reconnects (with backoff) when the connection drops."""
        if self._connection is None:
            self.connect()
        try:
            while not self._stop.is_set():
                try:
                    self._pump()
                except _CONNECTION_ERRORS as error:
                    if self._stop.is_set():
                        break
                    if not self.reconnect:
                        raise TransportUnavailable(
                            f"lost RabbitMQ at {redact(self.url)}: {describe_error(error)}"
                        ) from error
                    log.warning(
                        "lost RabbitMQ at %s (%s); reconnecting",
                        redact(self.url),
                        describe_error(error),
                    )
                    self._drop_connection()
                    self._reconnect()
        finally:
            self._drop_connection()

    # -- the consuming thread --------------------------------------------------------------

    def _pump(self) -> None:
        connection = self._connection
        assert connection is not None
        if self._buffer:
            wait = max(0.0, self._buffer_since + self.linger_s - time.monotonic())
        else:
            wait = self.poll_s
        connection.process_data_events(time_limit=wait)
        if self._buffer and (
            len(self._buffer) >= self.max_batch
            or time.monotonic() >= self._buffer_since + self.linger_s
        ):
            self._flush()

    def _on_message(
        self, partition: int, _channel: Any, method: Any, properties: Any, body: bytes
    ) -> None:
        headers = properties.headers or {}
        topic = headers.get(TOPIC_HEADER, "")
        arrived = headers.get(ARRIVED_HEADER)
        if not self._buffer:
            self._buffer_since = time.monotonic()
        self._buffer.append(
            PartitionDelivery(
                partition=partition,
                delivery_tag=method.delivery_tag,
                device_id=method.routing_key,
                topic=topic.decode() if isinstance(topic, bytes) else str(topic),
                payload=body,
                arrived_wall=int(arrived) / 1_000_000 if arrived is not None else time.time(),
                redelivered=bool(method.redelivered),
            )
        )

    def _flush(self) -> None:
        batch, self._buffer = self._buffer, []
        newly = {d.partition for d in batch} - self._owned
        try:
            for partition in sorted(newly):
                if self.on_partition_active is not None:
                    self.on_partition_active(partition)
                self._owned = self._owned | {partition}
            self.handler(batch)
        except Exception as error:
            # Not a connection error even when it is an OSError: run() must stop, not retry.
            self._stop.set()
            raise HandlerFailed(
                f"handler failed on a batch of {len(batch)}; nothing of it was acked: {error!r}"
            ) from error
        self.batches += 1
        last: dict[int, int] = {}
        for delivery in batch:
            last[delivery.partition] = max(last.get(delivery.partition, 0), delivery.delivery_tag)
        for partition, tag in last.items():
            self._channels[partition].basic_ack(delivery_tag=tag, multiple=True)
        self.acked += len(batch)

    def _drop_connection(self) -> None:
        lost, self._owned = self._owned, frozenset()
        self._buffer = []
        connection, self._connection = self._connection, None
        self._channels = {}
        self._subscribed.clear()
        if connection is not None and connection.is_open:
            _drop_abruptly(connection)
        if lost and self.on_partitions_lost is not None:
            self.on_partitions_lost(lost)

    def _reconnect(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                self.connect()
            except (TransportUnavailable, *_CONNECTION_ERRORS) as error:
                log.warning("RabbitMQ still unreachable: %s", error)
                self._stop.wait(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 5.0)
                continue
            self.reconnects += 1
            log.info("reconnected to RabbitMQ at %s", redact(self.url))
            return


def _drop_abruptly(connection: pika.BlockingConnection) -> None:
    """Shut the TCP socket down without AMQP's goodbye (see the module docstring for why)."""
    # pika (1.x) exposes no public way to drop a connection: reach its socket.
    transport = getattr(getattr(connection, "_impl", None), "_transport", None)
    stream = getattr(transport, "_sock", None)
    if not isinstance(stream, socket.socket):
        # pika's internals changed: closing cleanly is correct but may reorder a handover.
        log.warning("cannot drop the RabbitMQ socket abruptly; closing cleanly")
        with contextlib.suppress(*_CONNECTION_ERRORS):
            connection.close()
        return
    with contextlib.suppress(OSError):
        stream.shutdown(socket.SHUT_RDWR)
    # Let pika see the end of the stream and release its resources; it logs the
    # EOF we caused as errors, which would read like an incident.
    with (
        _silenced(_PIKA_STREAM_LOGGERS),
        contextlib.suppress(*_CONNECTION_ERRORS, pika.exceptions.StreamLostError),
    ):
        while connection.is_open:
            connection.process_data_events(time_limit=0.05)


_PIKA_STREAM_LOGGERS = (
    "pika.adapters.utils.io_services_utils",
    "pika.adapters.base_connection",
    "pika.adapters.blocking_connection",
)


class _ThisThreadOnly(logging.Filter):
    """Drops records logged by the thread that created it."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread


@contextlib.contextmanager
def _silenced(names: Sequence[str]) -> Iterator[None]:
    quiet = _ThisThreadOnly()
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)
