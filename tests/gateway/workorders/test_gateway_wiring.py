"""The service loop inside the real gateway: MQTT in, an order over HTTP out, outcome back.

A real Mosquitto, the real gateway runtime (ingest, pipeline, storage, API) built
by ``build_gateway``; a scripted detector stands in for the detectors (it raises a
finding on one telemetry value) so the test is about the wiring, not detection.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from detectors.api import Finding, NullDetector, Outcome, Signal
from edge.contract import Evidence, Fault, Kind, Severity, Telemetry
from edge.mqtt_url import MqttUrl
from edge.publisher import MqttPublisher
from gateway.settings import load_settings
from gateway.workorders.service import ServiceConfig
from housecall.compose import build_gateway
from tests.gateway.helpers import T0, birth, telemetry
from tests.gateway.workorders.http_helpers import free_port
from tests.servers import Mosquitto

TOKEN = "wiring-admin-token-0123456789"


class ScriptedDetector(NullDetector):
    """Raises a refrigerant-leak finding on a sample drawing more than 5 kW."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def on_telemetry(self, telemetry: Telemetry) -> Sequence[Signal]:
        power = telemetry.readings.numeric().get("power_w", 0.0)
        if power <= 5000:
            return ()
        return (
            Finding(
                device_id=telemetry.device_id,
                kind=Kind.AC,
                fault=Fault.REFRIGERANT_LEAK,
                confidence=0.9,
                severity=Severity.HIGH,
                observed_at=telemetry.ts,
                evidence=(Evidence(signal="power_w", baseline=900.0, observed=power, unit="W"),),
            ),
        )

    def learn_from_outcome(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


@pytest.mark.slow
def test_a_finding_from_mqtt_telemetry_becomes_an_order_on_the_api(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    port = free_port()
    settings = load_settings(
        mqtt_url=mosquitto.url,
        database_url=f"sqlite:///{tmp_path / 'housecall.db'}",
        api_port=port,
        admin_token=TOKEN,
        spool_dir=tmp_path / "spool",
        client_id="wiring-test-gateway",
    )
    detector = ScriptedDetector()
    gateway, loop = build_gateway(
        settings, detector=detector, config=ServiceConfig(auto_assign=False)
    )
    gateway.start()
    loop.start()
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with MqttPublisher(MqttUrl.parse(mosquitto.url), "wiring-test-device") as device:
            device.publish(*birth("ac-000321"), retain=True)
            for seq in range(5):
                device.publish(*telemetry("ac-000321", seq))
            device.publish(*telemetry("ac-000321", 5, power_w=9000.0))
            device.wait_all_acked(10)
        deadline = time.monotonic() + 30
        items: list[dict[str, object]] = []
        while not items and time.monotonic() < deadline:
            items = api.get("/api/v1/work-orders").json()["items"]
            time.sleep(0.1)
        assert len(items) == 1
        order = items[0]
        assert order["opened_at"] == (T0 + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
        assert order["brand"] == "Aurora"
        assert order["warranty"] == "in_warranty"
        assert order["recommended_parts"] == [
            "refrigerant R32 1 kg",
            "leak sealant kit",
            "brazing rods",
            "filter drier",
        ]
        moved = api.post(
            f"/api/v1/work-orders/{order['id']}/transitions", json={"to": "false_alarm"}
        )
        assert moved.status_code == 200
        assert detector.outcomes[-1].actual is None
        assert detector.outcomes[-1].predicted == Fault.REFRIGERANT_LEAK
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'housecall_work_orders{status="false_alarm"} 1.0' in metrics
        assert api.get("/api/v1/devices/ac-000321").status_code == 200
    finally:
        api.close()
        loop.stop()
        gateway.stop()
