"""The edge agent's subscription to the home broker: callbacks end at one queue.

A persistent MQTT 5 session (stable client id, ``clean_start=False``, long session
expiry) with ``manual_ack=True``: the home broker keeps re-delivering a message until
the agent acknowledges it, and the agent acknowledges only after the message is in
the outbox (:meth:`LocalInbox.ack`). Killed at any moment, the agent loses nothing the
home broker accepted: unacknowledged messages come again after the restart.

``ReceiveMaximum`` bounds how many unacknowledged messages the broker sends at once,
which bounds this queue's memory.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.mqtt_url import MqttUrl

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LocalMessage:
    """One message from the home broker, with what is needed to acknowledge it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    connection: int  # which connection delivered it: acks go only to that connection


class LocalInbox:
    """Subscribe to ``filters`` on the home broker and hand messages to one consumer."""

    def __init__(
        self,
        url: MqttUrl,
        client_id: str,
        filters: list[str],
        *,
        receive_maximum: int = 2000,
        session_expiry_s: int = 7 * 24 * 3600,
        keepalive_s: int = 30,
    ) -> None:
        self._url = url
        self._filters = filters
        self._receive_maximum = receive_maximum
        self._session_expiry_s = session_expiry_s
        self._keepalive_s = keepalive_s
        self._queue: queue.SimpleQueue[LocalMessage] = queue.SimpleQueue()
        self._connection = 0
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if url.username:
            client.username_pw_set(url.username, url.password)
        if url.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._client = client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background (retrying until the broker is there)."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._session_expiry_s
        props.ReceiveMaximum = self._receive_maximum
        self._client.connect_async(
            self._url.host,
            self._url.port,
            keepalive=self._keepalive_s,
            clean_start=False,
            properties=props,
        )
        self._client.loop_start()

    def wait_subscribed(self, timeout_s: float) -> bool:
        """Wait until the home broker confirmed our subscriptions (messages now reach us)."""
        return self._subscribed.wait(timeout_s)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Fire-and-forget QoS 1 publish on the home broker (the agent's own status)."""
        try:
            self._client.publish(topic, payload, qos=1, retain=retain)
        except Exception:
            log.exception("publishing %s on the home broker failed", topic)

    def take(self, max_messages: int, wait_s: float) -> list[LocalMessage]:
        """Up to ``max_messages`` queued messages, waiting at most ``wait_s`` for the first."""
        try:
            first = self._queue.get(timeout=wait_s)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < max_messages:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def ack(self, message: LocalMessage) -> None:
        """Acknowledge to the home broker (call only once the message is durable)."""
        if message.qos == 0 or message.connection != self._connection:
            return  # a new connection re-delivers it anyway; its old id means nothing now
        self._client.ack(message.mid, message.qos)

    # -- paho callbacks: never let an exception out ---------------------------------

    def _on_connect(self, client: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("home broker %s refused us: %s", self._url, reason)
            return
        self._connection += 1
        try:
            # retainHandling=1: retained messages only when the subscription is new, so a
            # reconnecting persistent session does not re-forward every retained birth.
            options = SubscribeOptions(qos=1, retainHandling=1)
            client.subscribe([(f, options) for f in self._filters])
        except Exception:
            log.exception("subscribing on the home broker failed")
        self._connected.set()

    def _on_subscribe(self, _c: Any, _u: Any, _mid: Any, reasons: Any, _p: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.error("the home broker refused a subscription: %s", reasons)
            return
        self._subscribed.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if reason.is_failure:
            log.warning("home broker %s lost (%s); reconnecting", self._url, reason)

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        try:
            self._queue.put(
                LocalMessage(
                    topic=message.topic,
                    payload=bytes(message.payload),
                    mid=message.mid,
                    qos=message.qos,
                    retain=bool(message.retain),
                    connection=self._connection,
                )
            )
        except Exception:
            log.exception("dropping nothing: could not queue a local message (it will be resent)")
