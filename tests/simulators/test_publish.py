"""A fleet published through a real Mosquitto arrives complete; JSONL replays byte for byte."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.contract import APPLIANCE_SUBSCRIPTION
from edge.mqtt_url import MqttUrl
from simulators.fleet import FleetConfig, simulate
from simulators.publish import publish_fleet, read_jsonl, write_jsonl
from simulators.scenario import Confounders, Scenario
from tests.servers import Mosquitto

CONFIG = FleetConfig(
    devices=16,
    days=1.0,
    seed=21,
    ac_interval_s=120,
    scenario=Scenario(confounders=Confounders(power_cuts_per_month=30.0)),
)


class Subscriber:
    """A plain paho QoS 1 subscriber that records every message it gets."""

    def __init__(self, port: int, client_id: str) -> None:
        self.received: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe(APPLIANCE_SUBSCRIPTION, qos=1)
        self.ready.set()

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.received.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def live(self) -> list[tuple[str, bytes]]:
        """Messages published after we subscribed (the broker's retained copies left out:
        other tests on the session broker leave theirs)."""
        with self.lock:
            return [(topic, payload) for topic, payload, retained in self.received if not retained]

    def wait_for(self, count: int, timeout_s: float = 60.0, *, live_only: bool = False) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                got = len(self.received)
            if (len(self.live()) if live_only else got) >= count:
                return
            time.sleep(0.05)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.mark.slow
def test_a_published_fleet_arrives_complete(mosquitto: Mosquitto) -> None:
    expected = list(simulate(CONFIG))
    subscriber = Subscriber(mosquitto.port, "sim-test-sub")
    time.sleep(0.2)  # the SUBACK
    try:
        report = publish_fleet(
            iter(expected), MqttUrl.parse(mosquitto.url), client_id="sim-test-pub", max_inflight=200
        )
        assert report.all_acked
        assert report.published == report.acknowledged == len(expected)
        subscriber.wait_for(len(expected), live_only=True)
    finally:
        subscriber.close()
    got = Counter(subscriber.live())
    want = Counter((m.topic, m.payload) for m in expected)
    assert got == want
    # One connection keeps each device's messages in order.
    order = [(t, p) for t, p in subscriber.live() if t.endswith("/telemetry")]
    assert order == [(m.topic, m.payload) for m in expected if m.topic.endswith("/telemetry")]


@pytest.mark.slow
def test_births_and_status_are_retained_for_late_subscribers(mosquitto: Mosquitto) -> None:
    config = FleetConfig(devices=5, days=0.05, seed=8, ac_interval_s=60)
    messages = list(simulate(config))
    report = publish_fleet(
        iter(messages), MqttUrl.parse(mosquitto.url), client_id="sim-test-retain"
    )
    assert report.all_acked
    late = Subscriber(mosquitto.port, "sim-test-late")
    try:
        late.wait_for(10, timeout_s=10)
        time.sleep(0.5)
    finally:
        late.close()
    retained = {(t, p) for t, p, r in late.received if r}
    last_birth = {m.topic: m.payload for m in messages if m.topic.endswith("/birth")}
    for topic, payload in last_birth.items():
        assert (topic, payload) in retained
    mine = {m.topic for m in messages if m.topic.endswith("/status")}
    statuses = {t for t, p, r in late.received if r and t in mine and p == b"online"}
    assert statuses == mine
    assert len(mine) == 5


def test_paced_publishing_follows_device_time(mosquitto: Mosquitto) -> None:
    messages = [m for m in simulate(FleetConfig(devices=3, days=0.02, seed=1)) if m.epoch_s]
    span = messages[-1].epoch_s - messages[0].epoch_s
    started = time.monotonic()
    report = publish_fleet(
        iter(messages), MqttUrl.parse(mosquitto.url), client_id="sim-test-paced", speed=span / 1.0
    )
    elapsed = time.monotonic() - started
    assert report.all_acked
    assert elapsed >= 0.9  # one wall second for the whole span


def test_jsonl_round_trips_exact_bytes(tmp_path: Path) -> None:
    messages = list(simulate(FleetConfig(devices=6, days=0.2, seed=2, ac_interval_s=60)))
    buffer = io.BytesIO()
    assert write_jsonl(messages, buffer) == len(messages)
    path = tmp_path / "fleet.jsonl"
    path.write_bytes(buffer.getvalue())
    back = list(read_jsonl(path))
    assert [(m.topic, m.payload, m.retain, m.channel) for m in back] == [
        (m.topic, m.payload, m.retain, m.channel) for m in messages
    ]
    assert [round(m.epoch_s) for m in back] == [round(m.epoch_s) for m in messages]
