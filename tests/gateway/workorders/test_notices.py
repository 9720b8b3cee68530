"""Self-fix notices leave through a real Mosquitto on ``service/{device_id}/notices``, QoS 1."""

from __future__ import annotations

import queue
import time
from datetime import timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine

from edge.contract import Fault, Notice, Severity
from edge.mqtt_url import MqttUrl
from gateway.service_loop import ServiceLoop
from tests.gateway.workorders.helpers import T0, Dev, finding
from tests.servers import Mosquitto


def subscribe(url: MqttUrl, topic: str) -> tuple[mqtt.Client, queue.Queue[mqtt.MQTTMessage]]:
    got: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed = queue.Queue[int]()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="notice-reader")
    client.on_message = lambda _c, _u, message: got.put(message)
    client.on_subscribe = lambda *_: subscribed.put(1)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.connect(url.host, url.port)
    client.loop_start()
    subscribed.get(timeout=10)
    return client, got


def test_a_dirty_filter_notice_reaches_the_broker(
    mosquitto: Mosquitto, sqlite_engine: Engine
) -> None:
    url = MqttUrl.parse(mosquitto.url)
    loop = ServiceLoop(sqlite_engine, mqtt_url=lambda: url, client_id="notices-test")
    reader, got = subscribe(url, "service/+/notices")
    try:
        service = loop.service
        seen = finding("ac-000123", Fault.DIRTY_FILTER, severity=Severity.MEDIUM)
        service.handle(Dev("ac-000123"), T0, [seen])
        message = got.get(timeout=10)
        assert message.topic == "service/ac-000123/notices"
        assert message.qos == 1
        notice = Notice.model_validate_json(message.payload)
        assert notice.ts == T0  # device time of the telemetry that prompted it
        assert notice.fault == Fault.DIRTY_FILTER
        assert notice.action == "clean_filter"
        # the same finding again within the grace period: no second notice
        service.handle(Dev("ac-000123"), T0 + timedelta(hours=1), [seen])
        time.sleep(0.5)
        assert got.empty()
        assert loop.notices_published == 1
    finally:
        reader.loop_stop()
        reader.disconnect()
        loop.stop()
