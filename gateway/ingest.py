"""MQTT ingest: paho-mqtt 2, QoS 1, persistent session, manual acks, one queue out.

Callbacks do one thing each and end at one queue (the aiomqtt model): a
received message becomes a :class:`Delivery` on :attr:`MqttIngest.queue`, and no
exception ever leaves a callback. The consumer (the runtime's pipeline worker)
calls :meth:`MqttIngest.ack` only after the batch was stored, so the broker keeps
(and redelivers) whatever we had not stored when we died.

- stable client id + persistent session: MQTT 5 ``clean_start=False`` with a
  session expiry (MQTT 3.1.1 ``clean_session=False`` for brokers without 5);
- the broker may hand us at most ``receive_maximum`` unacknowledged messages
  (MQTT 5), which bounds the queue while storage is slow;
- reconnects with jittered exponential backoff; a delivery received on an older
  connection is not acknowledged on the new one (the broker resends it, and
  de-duplication drops the second copy).
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.contract import APPLIANCE_SUBSCRIPTION, CONTRACT_QOS
from edge.mqtt_url import MqttUrl
from gateway.metrics import GatewayMetrics
from gateway.pipeline import RawMessage

log = logging.getLogger(__name__)

MQTT5 = 5
MQTT311 = 4


#: What acknowledging a delivery needs: (mid, qos, connection number).
AckId = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Delivery:
    """A received message and what is needed to acknowledge it."""

    raw: RawMessage
    mid: int
    qos: int
    connection: int


class MqttIngest:
    """Subscribes to every appliance topic and queues what arrives; acks on request."""

    def __init__(
        self,
        url: MqttUrl,
        *,
        client_id: str,
        metrics: GatewayMetrics | None = None,
        protocol: int = MQTT5,
        session_expiry_s: int = 7 * 24 * 3600,
        receive_maximum: int = 4096,
        keepalive_s: int = 30,
        max_backoff_s: float = 30.0,
        subscription: str = APPLIANCE_SUBSCRIPTION,
    ) -> None:
        self.url = url
        self.client_id = client_id
        self.metrics = metrics or GatewayMetrics()
        self.protocol = protocol
        self.queue: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self.subscribed = threading.Event()
        self._session_expiry_s = session_expiry_s
        self._receive_maximum = receive_maximum
        self._keepalive_s = keepalive_s
        self._max_backoff_s = max_backoff_s
        self._subscription = subscription
        self._connection = 0
        self._disconnected = threading.Event()
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._ack_lock = threading.Lock()
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        if self.protocol == MQTT5:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                protocol=mqtt.MQTTv5,
                reconnect_on_failure=False,
                manual_ack=True,
            )
        else:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                clean_session=False,
                protocol=mqtt.MQTTv311,
                reconnect_on_failure=False,
                manual_ack=True,
            )
        if self.url.username:
            client.username_pw_set(self.url.username, self.url.password)
        if self.url.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Connect (in the background, retrying until it works) and subscribe."""
        self._stop.clear()
        self._supervisor = threading.Thread(
            target=self._supervise, name="housecall-mqtt-ingest", daemon=True
        )
        self._supervisor.start()

    def wait_subscribed(self, timeout_s: float) -> bool:
        return self.subscribed.wait(timeout_s)

    def stop(self) -> None:
        """Disconnect; unacknowledged messages stay with the broker for the next session."""
        self._stop.set()
        self._disconnected.set()
        try:
            self.client.disconnect()
        except Exception:  # already gone
            log.debug("disconnect failed", exc_info=True)
        if self._supervisor is not None:
            self._supervisor.join(15)
        self._stop_loop()

    def _stop_loop(self) -> None:
        """Stop paho's network thread and close its wake-up socket pair.

        ``loop_start`` makes a new pair each time and ``loop_stop`` leaves the old one
        open, so a gateway that reconnects often would leak two sockets per reconnect.
        """
        self.client.loop_stop()
        reset = getattr(self.client, "_reset_sockets", None)
        if reset is not None:
            reset(sockpair_only=True)

    def _supervise(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            self._disconnected.clear()
            try:
                self._connect()
            except Exception as err:
                log.warning("cannot connect to MQTT broker %s: %s", self.url, err)
                self._stop.wait(backoff * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            self.client.loop_start()
            self._disconnected.wait()
            self._stop_loop()
            if self._stop.is_set():
                break
            if self.subscribed.is_set():
                backoff = 0.5  # it had worked: start the backoff over
            self.subscribed.clear()
            self.metrics.mqtt_connected.set(0)
            self._stop.wait(backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, self._max_backoff_s)

    def _connect(self) -> None:
        if self.protocol == MQTT5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self._session_expiry_s
            props.ReceiveMaximum = self._receive_maximum
            self.client.connect(
                self.url.host,
                self.url.port,
                keepalive=self._keepalive_s,
                clean_start=False,
                properties=props,
            )
        else:
            self.client.connect(self.url.host, self.url.port, keepalive=self._keepalive_s)

    # -- consumer side -----------------------------------------------------------------

    def take(self, max_items: int, timeout_s: float, linger_s: float = 0.0) -> list[Delivery]:
        """Wait up to ``timeout_s`` for one delivery, then up to ``linger_s`` for more (<= max)."""
        return take_batch(self.queue, max_items, timeout_s, self.metrics, linger_s)

    def ack(self, deliveries: Sequence[Delivery]) -> int:
        """Acknowledge stored deliveries, in order; returns how many were sent."""
        return self.ack_ids([(d.mid, d.qos, d.connection) for d in deliveries])

    def ack_ids(self, ids: Sequence[AckId]) -> int:
        """Acknowledge by (mid, qos, connection); older connections' ids are skipped."""
        sent = 0
        with self._ack_lock:
            current = self._connection
            for mid, qos, connection in ids:
                if qos == 0 or connection != current:
                    continue
                self.client.ack(mid, qos)
                sent += 1
        return sent

    # -- paho callbacks: never let an exception out ---------------------------------------

    def _on_connect(self, client: Any, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        try:
            if reason.is_failure:
                log.warning("MQTT broker %s refused us: %s", self.url, reason)
                return
            with self._ack_lock:
                self._connection += 1
            self.metrics.mqtt_connects.inc()
            session = getattr(flags, "session_present", False)
            log.info("connected to %s (session present: %s)", self.url, session)
            client.subscribe(self._subscription, qos=CONTRACT_QOS)
        except Exception:
            log.exception("on_connect failed")

    def _on_subscribe(self, _c: Any, _u: Any, _mid: Any, reasons: Any, _p: Any) -> None:
        try:
            if any(getattr(code, "is_failure", False) for code in reasons):
                log.error("subscription to %s refused: %s", self._subscription, reasons)
                return
            self.subscribed.set()
            self.metrics.mqtt_connected.set(1)
        except Exception:
            log.exception("on_subscribe failed")

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        try:
            try:
                topic = message.topic
            except UnicodeDecodeError:
                topic = repr(bytes(message._topic))  # noqa: SLF001 - paho keeps the raw topic there
            self.queue.put(
                Delivery(
                    RawMessage(topic, bytes(message.payload), time.time()),
                    message.mid,
                    message.qos,
                    self._connection,
                )
            )
        except Exception:
            log.exception("on_message failed; the broker will redeliver the message")

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        try:
            self.subscribed.clear()
            self.metrics.mqtt_connected.set(0)
            if not self._stop.is_set():
                log.warning("MQTT connection to %s lost (%s); reconnecting", self.url, reason)
        finally:
            self._disconnected.set()


def take_batch(
    deliveries: queue.SimpleQueue[Delivery],
    max_items: int,
    timeout_s: float,
    metrics: GatewayMetrics,
    linger_s: float = 0.0,
) -> list[Delivery]:
    """The pipeline's batch: wait for one delivery, then up to ``linger_s`` for more (<= max).

    Every batch costs the same fixed work (one SQL transaction, one spool entry, one
    write to the time-series server, one pipe message from the ingest child) whatever
    its size, so under a steady trickle a short linger buys larger batches, far less
    CPU per message, for that much latency. The linger is a sleep, not a wait on the
    queue: a waiting consumer is woken by every single arrival, and at thousands of
    messages a second those wake-ups cost more than the work. A full batch already
    queued is taken at once. Shared by the in-thread and the child-process ingest,
    whose callbacks both end at one queue.
    """
    try:
        first = deliveries.get(timeout=timeout_s)
    except queue.Empty:
        return []
    if linger_s > 0 and deliveries.qsize() < max_items - 1:
        time.sleep(linger_s)
    items = [first]
    while len(items) < max_items:
        try:
            items.append(deliveries.get_nowait())
        except queue.Empty:
            break
    metrics.queue_depth.set(deliveries.qsize())
    return items
