"""The whole gateway in-process against REAL Mosquitto, victoria-metrics and SQL stores.

Messages go in through the broker at QoS 1 and are read back from the
time-series server (``VictoriaMetrics.export``) and the SQL store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.runtime import Gateway
from gateway.settings import load_settings
from tests.gateway.helpers import Publisher, birth, telemetry, wait_until
from tests.gateway.test_pipeline import BAD_INPUTS
from tests.servers import Mosquitto, VictoriaMetrics

pytestmark = pytest.mark.slow


@pytest.fixture
def start_gateway(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Gateway]]:
    started: list[Gateway] = []

    def start(mqtt_url: str, influx_url: str | None, **options: Any) -> Gateway:
        settings = load_settings(
            mqtt_url=mqtt_url,
            influx_url=influx_url,
            database_url=database_url,
            spool_dir=tmp_path / "spool",
            client_id=options.pop("client_id", f"gw-{tmp_path.name}"[:60]),
        )
        gateway = Gateway(settings, api_port=0, **options).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop(drain_timeout_s=1)


def samples_by_device(vm: VictoriaMetrics, match: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for series in vm.export(match):
        out.setdefault(series["metric"]["device"], []).extend(series["values"])
    return out


def test_a_stream_from_several_devices_arrives_in_the_time_series_server_exactly_once(
    mosquitto: Mosquitto,
    victoria_metrics_factory: Callable[..., VictoriaMetrics],
    start_gateway: Callable[..., Gateway],
) -> None:
    vm = victoria_metrics_factory()
    gateway = start_gateway(mosquitto.url, vm.url)
    devices = [f"ac-{n}" for n in range(8)]
    per_device = 150
    publisher = Publisher(mosquitto.url, "test-publisher-stream")
    for device in devices:
        publisher.publish(birth(device), retain=False)
    for seq in range(per_device):
        for device in devices:
            publisher.publish(telemetry(device, seq))
    publisher.close(sent=len(devices) * (per_device + 1))
    total = len(devices) * per_device
    assert wait_until(lambda: gateway.metrics.points_written._value.get() >= total, 60)

    seqs = samples_by_device(vm, '{__name__="telemetry_seq"}')
    assert sorted(seqs) == devices
    for device in devices:
        assert sorted(seqs[device]) == list(range(per_device)), device
    series = vm.export('{__name__="telemetry_compressor_hz", device="ac-3"}')
    assert series[0]["metric"]["kind"] == "ac"
    assert series[0]["metric"]["model"] == "AUR-S35-INV"
    assert vm.export('{__name__="telemetry_mode"}') == []  # strings are never written

    metrics = httpx.get(f"{gateway.api_url}/metrics").text
    assert f"housecall_telemetry_messages_total {float(total)}" in metrics
    assert httpx.get(f"{gateway.api_url}/healthz").status_code == 200
    device = httpx.get(f"{gateway.api_url}/api/v1/devices/ac-3", params={"samples": 5}).json()
    assert device["telemetry_messages"] == per_device
    assert [s["seq"] for s in device["recent_telemetry"]] == list(range(149, 144, -1))


def test_bad_inputs_through_the_broker_become_dead_letters_between_stored_messages(
    mosquitto: Mosquitto,
    victoria_metrics_factory: Callable[..., VictoriaMetrics],
    start_gateway: Callable[..., Gateway],
) -> None:
    vm = victoria_metrics_factory()
    gateway = start_gateway(mosquitto.url, vm.url)
    publisher = Publisher(mosquitto.url, "test-publisher-bad")
    sent = 0
    for index, (_, topic, payload) in enumerate(BAD_INPUTS):
        publisher.publish(telemetry("ac-1", index))
        publisher.publish((topic, payload))
        sent += 2
    publisher.publish(telemetry("ac-1", len(BAD_INPUTS)))
    publisher.close(sent=sent + 1)
    expected = len(BAD_INPUTS) + 1
    assert wait_until(lambda: gateway.metrics.points_written._value.get() >= expected, 30)
    assert wait_until(
        lambda: (
            len(httpx.get(f"{gateway.api_url}/api/v1/dead-letters").json()["items"])
            == len(BAD_INPUTS)
        ),
        30,
    )
    body = httpx.get(f"{gateway.api_url}/api/v1/dead-letters", params={"limit": 100}).json()
    reasons = Counter(item["reason"] for item in body["items"])
    assert reasons == Counter(reason for reason, _, _ in BAD_INPUTS)
    assert body["counts"] == dict(reasons)
    assert sorted(samples_by_device(vm, '{__name__="telemetry_seq"}')["ac-1"]) == list(
        range(expected)
    )
    metrics = httpx.get(f"{gateway.api_url}/metrics").text
    assert 'housecall_dead_letters_total{reason="device_mismatch"} 1.0' in metrics
    assert 'housecall_dead_letters_total{reason="invalid"} 2.0' in metrics


def test_redelivered_duplicates_through_the_broker_are_stored_once(
    mosquitto: Mosquitto,
    victoria_metrics_factory: Callable[..., VictoriaMetrics],
    start_gateway: Callable[..., Gateway],
) -> None:
    vm = victoria_metrics_factory()
    gateway = start_gateway(mosquitto.url, vm.url)
    publisher = Publisher(mosquitto.url, "test-publisher-dups")
    for _ in range(3):  # a device that resends, and an edge agent replaying its outbox
        for seq in range(50):
            publisher.publish(telemetry("wm-1", seq, phase="spin", drum_rpm=1200.0))
    publisher.close(sent=150)
    assert wait_until(lambda: gateway.metrics.duplicates._value.get() >= 100, 30)
    assert wait_until(lambda: gateway.delivery is not None and gateway.delivery.pending() == 0)
    assert sorted(samples_by_device(vm, '{__name__="telemetry_seq"}')["wm-1"]) == list(range(50))
    assert gateway.metrics.telemetry._value.get() == 50
