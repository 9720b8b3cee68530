"""Shared pieces of the edge agent tests: appliances on the home broker, an upstream recorder."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.agent import EdgeAgent, EdgeConfig
from edge.mqtt_url import MqttUrl
from edge.publisher import MqttPublisher


def telemetry(device_id: str, seq: int, **readings: Any) -> bytes:
    body = {
        "schema": "housecall.telemetry/1",
        "device_id": device_id,
        "seq": seq,
        "ts": f"2026-07-14T13:{seq // 60 % 60:02d}:{seq % 60:02d}Z",
        "readings": readings or {"mode": "cool", "setpoint_c": 24.0, "room_temp_c": 25.5},
    }
    return orjson.dumps(body)


def event(device_id: str, seq: int) -> bytes:
    return orjson.dumps(
        {
            "schema": "housecall.event/1",
            "device_id": device_id,
            "seq": seq,
            "ts": "2026-07-14T19:41:10Z",
            "type": "error",
            "data": {"code": "E21", "text": "drain timeout"},
        }
    )


def birth(device_id: str, kind: str = "ac") -> bytes:
    return orjson.dumps(
        {
            "schema": "housecall.birth/1",
            "device_id": device_id,
            "kind": kind,
            "brand": "Aurora",
            "model": "AUR-S35-INV",
            "ts": "2026-07-14T13:00:00Z",
        }
    )


class Appliances:
    """Appliances publishing on the home broker with QoS 1 (a PUBACK = accepted)."""

    def __init__(self, url: str) -> None:
        self.publisher = MqttPublisher(MqttUrl.parse(url), f"appliances-{uuid.uuid4().hex[:8]}")
        self.publisher.connect()

    def send(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.publisher.publish(topic, payload, retain=retain)

    def close(self) -> None:
        assert self.publisher.close(30), "the home broker did not accept every message"


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    arrived: float  # time.monotonic() when the recorder got it

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = orjson.loads(self.payload)
        return body


class Recorder:
    """Subscribes upstream with a persistent session and records everything, in order."""

    def __init__(self, url: str, filters: tuple[str, ...] = ("appliances/+/+", "edge/+/status")):
        parsed = MqttUrl.parse(url)
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._filters = filters
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"recorder-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._subscribed = threading.Event()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self._client.connect(parsed.host, parsed.port, clean_start=False, properties=props)
        self._client.loop_start()
        assert self._subscribed.wait(10), "recorder could not subscribe"

    def _on_connect(self, client: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            return
        options = SubscribeOptions(qos=1, retainAsPublished=True)
        client.subscribe([(f, options) for f in self._filters])
        self._subscribed.set()

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        with self._lock:
            self.messages.append(
                Received(message.topic, bytes(message.payload), message.retain, time.monotonic())
            )

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def on(self, suffix: str) -> list[Received]:
        return [m for m in self.snapshot() if m.topic.endswith(suffix)]

    def wait_for(self, condition: Callable[[list[Received]], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition(self.snapshot()):
                return True
            time.sleep(0.05)
        return condition(self.snapshot())

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def seqs_by_device(messages: list[Received], channel: str = "telemetry") -> dict[str, list[int]]:
    """Every received ``seq`` per device, in arrival order (duplicates kept)."""
    out: dict[str, list[int]] = {}
    for m in messages:
        parts = m.topic.split("/")
        if parts[0] == "appliances" and parts[2] == channel:
            out.setdefault(parts[1], []).append(int(m.json()["seq"]))
    return out


def first_copies(seqs: list[int]) -> list[int]:
    """Arrival order with later duplicates removed (what a gateway de-duplicating by seq keeps)."""
    seen: set[int] = set()
    out = []
    for s in seqs:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def latest_edge_status(messages: list[Received]) -> dict[str, Any] | None:
    statuses = [m for m in messages if m.topic.startswith("edge/")]
    return statuses[-1].json() if statuses else None


def read_counters(outbox: Path) -> dict[str, int]:
    """Counters as committed in the outbox file (a separate connection: WAL readers are safe)."""
    with sqlite3.connect(outbox) as db:
        return dict(db.execute("SELECT name, value FROM counters"))


def read_rows(outbox: Path) -> list[tuple[str, str, bytes]]:
    with sqlite3.connect(outbox) as db:
        return [
            (d, c, bytes(p))
            for d, c, p in db.execute("SELECT device_id, channel, payload FROM outbox ORDER BY id")
        ]


class RunningAgent:
    """An :class:`EdgeAgent` on a thread of this process (tests that do not kill it)."""

    def __init__(self, config: EdgeConfig) -> None:
        self.agent = EdgeAgent(config)
        self._stop = threading.Event()
        self.agent.start()
        self._thread = threading.Thread(target=self.agent.run, args=(self._stop,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.agent.close()


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
