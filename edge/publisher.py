"""One MQTT publishing path for everything that speaks the contract upstream.

Simulated appliances and the edge agent both publish through :class:`MqttPublisher`,
so what the simulators prove about delivery holds for the agent too. It keeps at
most ``max_inflight`` QoS 1 messages unacknowledged (the 16-bit message-id space
and the broker's queue are finite): ``publish`` blocks when the window is full,
and the optional ``on_ack`` callback tells the caller, e.g. an outbox, that the
broker has the message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel

from edge.contract import (
    CONTRACT_QOS,
    Birth,
    EventBase,
    Telemetry,
    birth_topic,
    encode,
    events_topic,
    telemetry_topic,
)
from edge.mqtt_url import MqttUrl

log = logging.getLogger(__name__)

AckCallback = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Will:
    """The last will the broker publishes if this connection dies."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


class PublishError(RuntimeError):
    """The broker could not be reached or refused the connection."""


class MqttPublisher:
    """A connected paho client with a bounded window of unacknowledged publishes."""

    def __init__(
        self,
        url: MqttUrl,
        client_id: str,
        *,
        max_inflight: int = 1000,
        will: Will | None = None,
        session_expiry_s: int = 3600,
        keepalive_s: int = 30,
        protocol: int = 5,
    ) -> None:
        self._url = url
        #: 5 (MQTT 5, the default) or 4 (MQTT 3.1.1, e.g. the embedded amqtt broker).
        self._protocol = protocol
        self._window = threading.BoundedSemaphore(max_inflight)
        self._max_inflight = max_inflight
        self._lock = threading.Lock()
        self._pending: dict[int, AckCallback | None] = {}
        self._early_acks: set[int] = set()
        self._connected = threading.Event()
        self._connect_error: str | None = None
        self._session_expiry_s = session_expiry_s
        self._keepalive_s = keepalive_s
        self.acked = 0
        if protocol == 4:  # 3.1.1: the persistent session is clean_session=False
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
            )
        else:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
            )
        if url.username:
            client.username_pw_set(url.username, url.password)
        if url.tls:
            client.tls_set()
        if will is not None:
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        # Our own window bounds what we hand paho; let paho send all of it.
        client.max_inflight_messages_set(max_inflight)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client

    # -- lifecycle ---------------------------------------------------------------

    def connect(self, timeout_s: float = 10.0) -> None:
        """Connect (persistent session) and start paho's network thread; wait for CONNACK."""
        try:
            self._client.connect(
                self._url.host, self._url.port, keepalive=self._keepalive_s, **self._session()
            )
        except OSError as err:
            raise PublishError(f"cannot reach MQTT broker at {self._url}: {err}") from err
        self._client.loop_start()
        if not self._connected.wait(timeout_s):
            self._client.loop_stop()
            reason = self._connect_error or "no CONNACK"
            raise PublishError(f"MQTT broker at {self._url} did not accept us: {reason}")

    def connect_in_background(self) -> None:
        """Start connecting without waiting; paho retries until the broker is there.

        For long-running agents that must keep working while upstream is away (an
        edge agent booting during an internet outage). Check :attr:`connected`.
        """
        self._client.connect_async(
            self._url.host, self._url.port, keepalive=self._keepalive_s, **self._session()
        )
        self._client.loop_start()

    def _session(self) -> dict[str, Any]:
        """Connect arguments for a persistent session (MQTT 5: expiry; 3.1.1: none needed)."""
        if self._protocol == 4:
            return {}
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._session_expiry_s
        return {"clean_start": False, "properties": props}

    @property
    def connected(self) -> bool:
        """Whether the broker has accepted the current connection (CONNACK received)."""
        return self._connected.is_set()

    def close(self, flush_timeout_s: float = 10.0) -> bool:
        """Wait for outstanding acks (up to the timeout), then disconnect; True if all acked."""
        flushed = self.wait_all_acked(flush_timeout_s)
        self._client.disconnect()
        self._client.loop_stop()
        return flushed

    def __enter__(self) -> MqttPublisher:
        self.connect()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- publishing --------------------------------------------------------------

    @property
    def inflight(self) -> int:
        with self._lock:
            return len(self._pending)

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = CONTRACT_QOS,
        retain: bool = False,
        on_ack: AckCallback | None = None,
    ) -> None:
        """Publish; blocks while ``max_inflight`` messages await their PUBACK."""
        self._window.acquire()
        # Never hold our lock while calling into paho: its network thread holds paho's
        # own lock when it calls _on_publish, which takes ours (lock-order deadlock).
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            self._window.release()
            raise PublishError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        # NO_CONN: paho queued it and sends it after reconnecting.
        with self._lock:
            acked_already = info.mid in self._early_acks
            if acked_already:
                self._early_acks.discard(info.mid)
            else:
                self._pending[info.mid] = on_ack
        if acked_already:
            self._settle(on_ack)

    def publish_message(self, message: BaseModel, *, on_ack: AckCallback | None = None) -> None:
        """Publish a contract message on the topic, QoS and retain flag its type calls for."""
        topic, retain = topic_for(message)
        self.publish(topic, encode(message), retain=retain, on_ack=on_ack)

    def wait_all_acked(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.inflight:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- paho callbacks: never let an exception out --------------------------------

    def _settle(self, on_ack: AckCallback | None) -> None:
        self.acked += 1
        self._window.release()
        if on_ack is not None:
            try:
                on_ack()
            except Exception:
                log.exception("on_ack callback failed")

    def _on_publish(self, _c: Any, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        with self._lock:
            if mid not in self._pending:
                self._early_acks.add(mid)  # acked before publish() recorded it
                return
            on_ack = self._pending.pop(mid)
        self._settle(on_ack)

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self._connect_error = str(reason)
            return
        self._connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if reason.is_failure:
            log.warning("MQTT connection to %s lost (%s); paho reconnects", self._url, reason)


def topic_for(message: BaseModel) -> tuple[str, bool]:
    """The (topic, retain) a contract message is published with."""
    if isinstance(message, Telemetry):
        return telemetry_topic(message.device_id), False
    if isinstance(message, EventBase):
        return events_topic(message.device_id), False
    if isinstance(message, Birth):
        return birth_topic(message.device_id), True
    raise TypeError(f"{type(message).__name__} is not a message appliances publish")
