"""Ingest side: publish validated messages to the partition exchange, with publisher confirms.

The ack chain starts here: the MQTT ingest acknowledges a message to its broker
only after :meth:`PartitionPublisher.publish` returned for the batch holding it,
i.e. after RabbitMQ confirmed that every message of the batch is in its quorum
queue (written to a majority's log). A batch that raises
:class:`PublishNotConfirmed` must not be acknowledged at all: MQTT redelivers
it, and the consumer side's de-duplication drops copies that did get through.

Why a background I/O thread: pika's ``BlockingChannel`` waits for the confirm
of each message before sending the next (one round trip, and one quorum-log
fsync batch, per message). Here a pika ``SelectConnection`` runs in its own
thread, a whole batch is written at once, and the caller waits until every
confirm of the batch arrived. The connection is only touched from that thread;
callers hand work over with ``add_callback_threadsafe``. ``publish`` may be
called from several threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import pika
import pika.exceptions
from pika.adapters.select_connection import SelectConnection

from gateway.scaleout.connection import connect_blocking, describe_error, parameters, redact
from gateway.scaleout.errors import PublishNotConfirmed, TransportUnavailable
from gateway.scaleout.topology import Topology, declare_topology

log = logging.getLogger(__name__)

#: Message headers carrying what the MQTT broker told us about the message.
TOPIC_HEADER = "topic"
ARRIVED_HEADER = "arrived_us"  # integer microseconds: AMQP headers via pika carry no float
_PERSISTENT = 2
_MAX_ROUTING_KEY_BYTES = 255


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One validated MQTT message and the device it belongs to (its routing key)."""

    device_id: str
    topic: str
    payload: bytes
    arrived_wall: float


class _Batch:
    """Confirms still awaited for one ``publish`` call; completed from the I/O thread."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.remaining = size
        self.failure: str | None = None
        self.done = threading.Event()

    def confirm(self) -> None:
        self.remaining -= 1
        if self.remaining <= 0:
            self.done.set()

    def fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
        self.done.set()


class _Link:
    """One SelectConnection, its channel in confirm mode, and the thread running its ioloop."""

    def __init__(self, url: str, exchange: str, name: str) -> None:
        self.url = url
        self.exchange = exchange
        self.params = parameters(url, name=name)
        self.ready = threading.Event()
        self.open_error: str | None = None
        self.closed_reason: str | None = None
        self.blocked_reason: str | None = None
        self.connection: SelectConnection | None = None
        self.channel: Any = None
        self._next_tag = 0
        self._pending: dict[int, _Batch] = {}
        self.thread = threading.Thread(target=self._run, name=f"{name}-io", daemon=True)

    @property
    def alive(self) -> bool:
        return self.ready.is_set() and self.open_error is None and self.closed_reason is None

    # -- I/O thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.connection = SelectConnection(
                self.params,
                on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_close,
            )
            self.connection.add_on_connection_blocked_callback(self._on_blocked)
            self.connection.add_on_connection_unblocked_callback(self._on_unblocked)
            self.connection.ioloop.start()
        except Exception as error:  # never leave a caller waiting on a dead thread
            log.exception("RabbitMQ publisher I/O thread failed")
            self._lost(f"I/O thread failed: {describe_error(error)}")
            self.ready.set()
        finally:
            if self.connection is not None:
                # Releases the ioloop's wake-up socket pair.
                self.connection.ioloop.close()

    def _on_open(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, connection: SelectConnection, error: BaseException) -> None:
        self.open_error = describe_error(error)
        self.ready.set()
        connection.ioloop.stop()

    def _on_channel_open(self, channel: Any) -> None:
        self.channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_confirm_ok)

    def _on_confirm_ok(self, _frame: Any) -> None:
        self.ready.set()

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        self._lost(f"channel closed: {describe_error(reason)}")
        if self.connection is not None and self.connection.is_open:
            self.connection.close()

    def _on_close(self, connection: SelectConnection, reason: BaseException) -> None:
        self._lost(f"connection closed: {describe_error(reason)}")
        self.ready.set()
        connection.ioloop.stop()

    def _on_blocked(self, _connection: SelectConnection, frame: Any) -> None:
        self.blocked_reason = str(getattr(frame.method, "reason", "resource alarm"))
        log.warning("RabbitMQ blocked publishing: %s", self.blocked_reason)

    def _on_unblocked(self, _connection: SelectConnection, _frame: Any) -> None:
        self.blocked_reason = None
        log.info("RabbitMQ unblocked publishing")

    def _lost(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
        pending, self._pending = self._pending, {}
        for batch in pending.values():
            batch.fail(reason)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        nacked = isinstance(method, pika.spec.Basic.Nack)
        tag: int = method.delivery_tag
        if method.multiple:
            settled = [t for t in self._pending if t <= tag]
        else:
            settled = [tag] if tag in self._pending else []
        for settled_tag in settled:
            batch = self._pending.pop(settled_tag)
            if nacked:
                batch.fail("RabbitMQ refused (nack) a message: the queue could not store it")
            else:
                batch.confirm()

    def _on_return(self, _channel: Any, method: Any, _properties: Any, _body: bytes) -> None:
        # An unroutable message is confirmed (ack) right after its return: fail
        # everything still pending, which includes its batch. The topology was
        # deleted under us; duplicates from retrying the others are de-duplicated.
        reason = (
            f"message for device {method.routing_key!r} was unroutable: "
            f"{method.reply_text} (is {self.exchange} bound to its partition queues?)"
        )
        for batch in self._pending.values():
            batch.fail(reason)

    def _publish_now(self, messages: Sequence[OutgoingMessage], batch: _Batch) -> None:
        if self.channel is None or not self.channel.is_open or self.closed_reason is not None:
            batch.fail(self.closed_reason or "channel not open")
            return
        try:
            for message in messages:
                properties = pika.BasicProperties(
                    delivery_mode=_PERSISTENT,
                    headers={
                        TOPIC_HEADER: message.topic,
                        ARRIVED_HEADER: round(message.arrived_wall * 1_000_000),
                    },
                )
                self.channel.basic_publish(
                    self.exchange,
                    message.device_id,
                    message.payload,
                    properties,
                    mandatory=True,
                )
                self._next_tag += 1
                self._pending[self._next_tag] = batch
        except Exception as error:
            batch.fail(f"publish failed: {describe_error(error)}")

    # -- any thread -----------------------------------------------------------------------

    def submit(self, messages: Sequence[OutgoingMessage], batch: _Batch) -> None:
        connection = self.connection
        if connection is None or not self.alive:
            batch.fail(self.closed_reason or "not connected")
            return
        try:
            connection.ioloop.add_callback_threadsafe(partial(self._publish_now, messages, batch))
        except Exception as error:  # the ioloop already closed
            batch.fail(f"connection gone: {describe_error(error)}")

    def close(self, timeout_s: float) -> None:
        connection = self.connection
        if connection is not None and self.thread.is_alive():
            try:
                connection.ioloop.add_callback_threadsafe(self._close_now)
            except Exception:
                log.debug("publisher ioloop already closed", exc_info=True)
        self.thread.join(timeout_s)

    def _close_now(self) -> None:
        connection = self.connection
        if connection is not None and not (connection.is_closed or connection.is_closing):
            connection.close()


class PartitionPublisher:
    """Publishes batches to ``<prefix>.devices`` with routing key = device id; waits for confirms.

    Usage: ``with PartitionPublisher(url, topology) as publisher: publisher.publish(batch)``.
    :meth:`start` fails fast with :class:`TransportUnavailable` when RabbitMQ is
    unreachable; later, a lost connection fails the batches in flight with
    :class:`PublishNotConfirmed` and the next :meth:`publish` reconnects.
    """

    def __init__(
        self,
        url: str,
        topology: Topology | None = None,
        *,
        name: str = "housecall-ingest",
        confirm_timeout_s: float = 30.0,
        connect_timeout_s: float = 15.0,
        declare: bool = True,
    ) -> None:
        self.url = url
        self.topology = topology or Topology()
        self.name = name
        self.confirm_timeout_s = confirm_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.declare = declare
        self._link: _Link | None = None
        self._lock = threading.Lock()
        self._declared = False

    def __enter__(self) -> PartitionPublisher:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.alive

    def start(self) -> None:
        """Declare the topology (once) and connect; raises :class:`TransportUnavailable`."""
        with self._lock:
            self._connect_locked()

    def _connect_locked(self) -> _Link:
        if self._link is not None and self._link.alive:
            return self._link
        if self.declare and not self._declared:
            connection = connect_blocking(self.url, name=f"{self.name}-declare")
            try:
                declare_topology(connection, self.topology)
            finally:
                if connection.is_open:
                    connection.close()
            self._declared = True
        if self._link is not None:
            self._link.close(timeout_s=1.0)
        link = _Link(self.url, self.topology.exchange, self.name)
        link.thread.start()
        if not link.ready.wait(self.connect_timeout_s):
            link.close(timeout_s=1.0)
            raise TransportUnavailable(
                f"cannot reach RabbitMQ at {redact(self.url)}: "
                f"no answer within {self.connect_timeout_s} s"
            )
        if not link.alive:
            reason = link.open_error or link.closed_reason or "connection failed"
            link.close(timeout_s=1.0)
            raise TransportUnavailable(f"cannot reach RabbitMQ at {redact(self.url)}: {reason}")
        self._link = link
        return link

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publish ``messages`` in order and return once RabbitMQ confirmed all of them.

        Raises :class:`PublishNotConfirmed` (the caller acks none of the batch)
        when the connection cannot be (re)opened, when a message was refused or
        unroutable, or when confirms did not all arrive within
        ``confirm_timeout_s`` (e.g. RabbitMQ blocked publishers on a memory or
        disk alarm).
        """
        if not messages:
            return
        for message in messages:
            if len(message.device_id.encode()) > _MAX_ROUTING_KEY_BYTES:
                raise ValueError(f"device id longer than 255 bytes: {message.device_id[:40]}...")
        with self._lock:
            try:
                link = self._connect_locked()
            except TransportUnavailable as error:
                raise PublishNotConfirmed(f"nothing published: {error}") from error
        batch = _Batch(len(messages))
        link.submit(messages, batch)
        if not batch.done.wait(self.confirm_timeout_s):
            blocked = (
                f"; RabbitMQ blocks publishers: {link.blocked_reason}"
                if link.blocked_reason
                else ""
            )
            raise PublishNotConfirmed(
                f"{batch.remaining} of {batch.size} messages not confirmed within "
                f"{self.confirm_timeout_s} s{blocked}"
            )
        if batch.failure is not None:
            raise PublishNotConfirmed(
                f"batch of {batch.size} not confirmed ({batch.remaining} unconfirmed): "
                f"{batch.failure}"
            )

    def close(self, timeout_s: float = 10.0) -> None:
        """Close the connection; batches still waiting fail with :class:`PublishNotConfirmed`."""
        with self._lock:
            link, self._link = self._link, None
        if link is not None:
            link.close(timeout_s)
