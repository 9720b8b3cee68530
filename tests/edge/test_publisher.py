"""The shared publisher against a real broker: bounded window, acks reported, retained births."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from functools import partial

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.contract import AcReadings, Birth, Kind, Telemetry, parse_message
from edge.mqtt_url import MqttUrl
from edge.publisher import MqttPublisher
from tests.servers import Mosquitto


def _subscriber(
    port: int, topic: str, only: str = ""
) -> tuple[mqtt.Client, list[mqtt.MQTTMessage], threading.Event]:
    """A QoS 1 subscriber collecting the messages whose topic contains ``only``."""
    got: list[mqtt.MQTTMessage] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{time.monotonic_ns()}")
    client.on_message = lambda _c, _u, msg: got.append(msg) if only in msg.topic else None
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    assert subscribed.wait(5)
    return client, got, subscribed


def test_every_publish_is_acked_and_delivered_within_the_window(mosquitto: Mosquitto) -> None:
    sub, got, _ = _subscriber(mosquitto.port, "appliances/+/telemetry", "pub-test")
    acks: list[int] = []
    publisher = MqttPublisher(MqttUrl.parse(mosquitto.url), "pub-test", max_inflight=8)
    publisher.connect()
    peak = 0
    try:
        for seq in range(500):
            message = Telemetry(
                schema_="housecall.telemetry/1",
                device_id=f"pub-test-{seq % 5}",
                seq=seq,
                ts=datetime(2026, 7, 14, 13, 5, tzinfo=UTC),
                readings=AcReadings(setpoint_c=24.0),
            )
            publisher.publish_message(message, on_ack=partial(acks.append, seq))
            peak = max(peak, publisher.inflight)
        assert publisher.close(flush_timeout_s=20)
    finally:
        deadline = time.monotonic() + 10
        while len(got) < 500 and time.monotonic() < deadline:
            time.sleep(0.05)
        sub.loop_stop()
    assert sorted(acks) == list(range(500))
    assert peak <= 8
    assert len(got) == 500
    parsed = [parse_message(m.topic, bytes(m.payload)).payload for m in got]
    assert sorted(p.seq for p in parsed if isinstance(p, Telemetry)) == list(range(500))


def test_births_are_retained(mosquitto: Mosquitto) -> None:
    birth = Birth(
        schema_="housecall.birth/1",
        device_id="retained-ac",
        kind=Kind.AC,
        brand="Aurora",
        model="AUR-S35-INV",
        ts=datetime(2026, 7, 14, 13, tzinfo=UTC),
    )
    with MqttPublisher(MqttUrl.parse(mosquitto.url), "pub-retain") as publisher:
        publisher.publish_message(birth)
    sub, got, _ = _subscriber(mosquitto.port, "appliances/retained-ac/birth")
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    sub.loop_stop()
    with MqttPublisher(MqttUrl.parse(mosquitto.url), "pub-retain-clear") as publisher:
        publisher.publish("appliances/retained-ac/birth", b"", retain=True)  # leave no trace
    assert got
    assert got[0].retain
    assert parse_message(got[0].topic, bytes(got[0].payload)).payload == birth
