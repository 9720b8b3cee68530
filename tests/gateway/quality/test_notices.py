"""Progress notices on a real Mosquitto: the customer's topic carries the order's progress and,
once scheduled, who is coming (name and ID badge); a broker outage delays them, loses none."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.contract import Notice
from edge.mqtt_url import MqttUrl
from gateway.quality.service import QualityService
from gateway.service_loop import LazyMqttNotices, ServiceLoop
from gateway.workorders.service import ServiceConfig, WorkOrderService
from tests.gateway.quality.helpers import (
    Clock,
    Rig,
    add_device,
    add_provider,
    finding,
    visit,
)
from tests.gateway.workorders.helpers import fresh_engine
from tests.servers import Mosquitto


@contextmanager
def subscriber(url: str) -> Iterator[list[dict[str, Any]]]:
    """Everything published on ``service/+/notices``, decoded, in arrival order."""
    parsed = MqttUrl.parse(url)
    got: list[dict[str, Any]] = []
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="customer-app")

    def on_connect(c: mqtt.Client, *_: Any) -> None:
        c.subscribe("service/+/notices", qos=1)

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        got.append({"topic": message.topic, **json.loads(message.payload)})

    client.on_connect = on_connect
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = on_message
    client.connect(parsed.host, parsed.port)
    client.loop_start()
    assert ready.wait(10)
    try:
        yield got
    finally:
        client.disconnect()
        client.loop_stop()


def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_customer_sees_progress_and_who_is_coming(mosquitto: Mosquitto, tmp_path: Path) -> None:
    engine = fresh_engine(f"sqlite:///{tmp_path / 'housecall.db'}")
    loop = ServiceLoop(
        engine,
        mqtt_url=lambda: MqttUrl.parse(mosquitto.url),
        client_id="quality-notices-test",
        config=ServiceConfig(auto_assign=False),
    )
    add_device(engine, "ac-77")
    add_provider(engine, "sp_a", [("t1", "Li Wei")])
    rig = Rig(engine, loop.service, loop.quality, Clock())
    with subscriber(mosquitto.url) as got:
        loop.start()
        try:
            order_id = loop.service.on_finding(finding("ac-77")).order_id or ""
            visit(rig, order_id, "t1", root_cause="condenser_fouling")
            assert wait_for(lambda: len(got) >= 6), got
        finally:
            loop.stop()
    assert {m["topic"] for m in got} == {"service/ac-77/notices"}
    assert [m["action"] for m in got] == [
        "service_order_opened",
        "technician_assigned",
        "technician_accepted",
        "technician_scheduled",
        "technician_on_site",
        "repair_done",
    ]
    scheduled = got[3]
    assert scheduled["technician_name"] == "Li Wei"
    assert scheduled["technician_badge"] == "B-t1"
    assert "Li Wei (ID badge B-t1) will come on" in scheduled["text"]
    assert scheduled["order_id"] == order_id
    assert scheduled["status"] == "scheduled"
    # a receiver that knows only contract v1 reads it as a plain notice (extras ignored)
    plain = Notice.model_validate_json(json.dumps(scheduled))
    assert plain.action == "technician_scheduled"
    assert plain.fault == "condenser_fouling"
    assert "technician_name" not in plain.model_dump()
    # no identity before it is scheduled
    assert "technician_name" not in got[1]


def test_notices_wait_out_a_broker_outage_and_arrive_in_order(
    mosquitto_factory: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    broker = mosquitto_factory()
    broker.stop()  # down from the start
    engine = fresh_engine(f"sqlite:///{tmp_path / 'housecall.db'}")
    notices = LazyMqttNotices(lambda: MqttUrl.parse(broker.url), "quality-outage-test")
    clock = Clock()
    service = WorkOrderService(
        engine, publish_notice=notices, config=ServiceConfig(auto_assign=False), clock=clock
    )
    quality = QualityService(service).attach()  # no relay thread: drains after each change
    add_device(engine, "ac-9")
    add_provider(engine, "sp_a", [("t1", "Li Wei")])
    order_id = service.on_finding(finding("ac-9")).order_id or ""
    service.transition(order_id, "assigned", actor="dispatch", technician_id="t1")
    service.transition(order_id, "accepted", actor="t1")
    service.transition(
        order_id, "scheduled", actor="t1", scheduled_for=clock.now + timedelta(hours=3)
    )
    assert quality.relay.failures >= 1
    assert quality.relay.published == 0
    broker.start()
    try:
        with subscriber(broker.url) as got:
            assert quality.relay.drain() == 4
            service.transition(order_id, "on_site", actor="t1")
            assert wait_for(lambda: len(got) >= 5), got
    finally:
        notices.close()
    assert [m["action"] for m in got] == [
        "service_order_opened",
        "technician_assigned",
        "technician_accepted",
        "technician_scheduled",
        "technician_on_site",
    ]
    assert got[3]["technician_badge"] == "B-t1"
