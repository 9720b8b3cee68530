"""The embedded broker (amqtt when nothing is installed, Mosquitto when it is) and reconnects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.broker import find_mosquitto
from gateway.runtime import Gateway
from gateway.settings import load_settings
from tests.gateway.helpers import Publisher, birth, telemetry, wait_until
from tests.servers import Mosquitto

pytestmark = pytest.mark.slow


def publish_311(host: str, port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="amqtt-pub", protocol=mqtt.MQTTv311)
    client.connect(host, port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


@pytest.mark.parametrize("prefer", ["amqtt", "mosquitto"])
def test_gateway_on_its_embedded_broker_stores_what_is_published(
    tmp_path: Path, prefer: str
) -> None:
    if prefer == "mosquitto" and find_mosquitto() is None:
        pytest.skip("mosquitto not installed")
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'gw.db'}", spool_dir=tmp_path / "spool"
    )
    gateway = Gateway(
        settings, api_port=0, broker_dir=tmp_path / "broker", embedded_broker=prefer
    ).start()
    try:
        assert gateway.broker is not None
        assert gateway.broker.endpoint is not None
        assert gateway.broker.endpoint.implementation == prefer
        assert gateway.ready()
        url = gateway.mqtt_url
        assert url is not None
        publish_311(url.host, url.port, [birth("ac-1"), *(telemetry("ac-1", s) for s in range(20))])
        assert wait_until(lambda: gateway.metrics.telemetry._value.get() == 20, 20)
        assert [s["seq"] for s in gateway.recent("ac-1", 3)] == [19, 18, 17]
    finally:
        gateway.stop()


def test_unset_mqtt_url_starts_an_embedded_broker(tmp_path: Path) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'gw.db'}", spool_dir=tmp_path / "spool"
    )
    gateway = Gateway(settings, api_port=0, broker_dir=tmp_path / "broker").start()
    try:
        assert gateway.broker is not None
        assert gateway.ready()
        assert gateway.mqtt_url is not None
        publish_311(gateway.mqtt_url.host, gateway.mqtt_url.port, [telemetry("ac-9", 1)])
        assert wait_until(lambda: gateway.metrics.telemetry._value.get() == 1, 20)
    finally:
        gateway.stop()


@pytest.mark.parametrize("ingest_process", [True, False], ids=["child-process", "thread"])
def test_ingest_reconnects_after_a_broker_restart_and_gets_what_was_queued(
    mosquitto_factory: Callable[..., Mosquitto], tmp_path: Path, ingest_process: bool
) -> None:
    broker = mosquitto_factory(persistence=True)
    settings = load_settings(
        mqtt_url=broker.url,
        database_url=f"sqlite:///{tmp_path / 'gw.db'}",
        spool_dir=tmp_path / "spool",
        client_id="gw-reconnect",
    )
    gateway = Gateway(settings, api_port=0, ingest_process=ingest_process).start()
    try:
        publisher = Publisher(broker.url, "reconnect-pub")
        publisher.publish(telemetry("ac-1", 0))
        publisher.close(sent=1)
        assert wait_until(lambda: gateway.metrics.telemetry._value.get() == 1, 20)
        broker.stop()  # SIGTERM
        assert wait_until(lambda: not gateway.ready(), 20)
        broker.start()
        assert wait_until(gateway.ready, 60)
        publisher = Publisher(broker.url, "reconnect-pub-2")
        for seq in range(1, 11):
            publisher.publish(telemetry("ac-1", seq))
        publisher.close(sent=10)
        assert wait_until(lambda: gateway.metrics.telemetry._value.get() == 11, 30)
        assert gateway.metrics.mqtt_connects._value.get() == 2
    finally:
        gateway.stop()
