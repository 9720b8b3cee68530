"""Nothing acknowledged is lost, nothing stored twice: a SIGKILLed gateway, a time-series outage.

Both against real servers: Mosquitto with persistence (the gateway's session and
its queued messages survive a broker restart), victoria-metrics (which would store
a repeated sample twice, so any double write shows up in the export).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gateway.runtime import Gateway
from tests.gateway.helpers import Publisher, birth, metric_value, telemetry, wait_until
from tests.gateway.test_runtime import samples_by_device, start_gateway  # noqa: F401
from tests.servers import Mosquitto, VictoriaMetrics, free_port

pytestmark = pytest.mark.slow

HOUSECALL = Path(sys.executable).parent / "housecall"


def publish_stream(
    url: str, client_id: str, devices: list[str], per_device: int, rate_per_s: float
) -> threading.Thread:
    """Publish ``per_device`` telemetry messages per device at about ``rate_per_s``, in a thread."""

    def run() -> None:
        publisher = Publisher(url, client_id)
        for device in devices:
            publisher.publish(birth(device), retain=True)
        started = time.monotonic()
        sent = 0
        for seq in range(per_device):
            for device in devices:
                publisher.publish(telemetry(device, seq))
                sent += 1
            ahead = sent / rate_per_s - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        publisher.close(timeout_s=120, sent=sent + len(devices))

    thread = threading.Thread(target=run, name="test-publisher", daemon=True)
    thread.start()
    return thread


def metrics_text(api_url: str) -> str:
    try:
        return httpx.get(f"{api_url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return ""


def assert_exactly_once(vm: VictoriaMetrics, devices: list[str], per_device: int) -> None:
    seqs = samples_by_device(vm, '{__name__="telemetry_seq"}')
    assert sorted(seqs) == sorted(devices)
    for device in devices:
        values = sorted(int(v) for v in seqs[device])
        assert values == list(range(per_device)), (
            f"{device}: {len(values)} samples, {len(set(values))} distinct"
        )


def test_gateway_sigkilled_mid_stream_and_restarted_stores_every_message_exactly_once(
    mosquitto_factory: Callable[..., Mosquitto],
    victoria_metrics_factory: Callable[..., VictoriaMetrics],
    database_url: str,
    tmp_path: Path,
) -> None:
    broker = mosquitto_factory(persistence=True)
    vm = victoria_metrics_factory()
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    log = (tmp_path / "gateway.log").open("ab")

    def launch() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                str(HOUSECALL),
                "gateway",
                "--mqtt-url",
                broker.url,
                "--influx-url",
                vm.url,
                "--database-url",
                database_url,
                "--spool-dir",
                str(tmp_path / "spool"),
                "--api-port",
                str(api_port),
                "--client-id",
                "gw-crash-test",
            ],
            stdout=log,
            stderr=log,
            cwd=tmp_path,
        )
        ready = wait_until(lambda: "housecall_mqtt_connected 1.0" in metrics_text(api_url), 60)
        if not ready:  # never leave a gateway behind the failed test (it outlived a CI run)
            process.kill()
            process.wait(10)
        assert ready, (tmp_path / "gateway.log").read_text()[-3000:]
        return process

    devices = [f"ac-{n}" for n in range(10)]
    per_device = 500
    gateway = launch()
    try:
        publisher = publish_stream(broker.url, "crash-publisher", devices, per_device, 1500)
        assert wait_until(
            lambda: (
                metric_value(metrics_text(api_url), "housecall_telemetry_messages_total") >= 1500
            ),
            60,
        )
        os.kill(gateway.pid, signal.SIGKILL)  # mid-stream: batches in every state
        gateway.wait(10)
        publisher.join(120)  # the rest queues in the gateway's persistent session
        assert not publisher.is_alive()
        broker.stop()  # SIGTERM: Mosquitto saves sessions and queued messages
        broker.start()
        gateway = launch()
        total = len(devices) * per_device
        assert wait_until(
            lambda: vm.sample_count('{__name__="telemetry_seq"}') >= total, 120, 1.0
        ), (tmp_path / "gateway.log").read_text()[-3000:]
        time.sleep(2)  # anything doubled would arrive now
        assert_exactly_once(vm, devices, per_device)
    finally:
        if gateway.poll() is None:
            gateway.send_signal(signal.SIGTERM)
            try:
                gateway.wait(30)
            except subprocess.TimeoutExpired:
                gateway.kill()
        log.close()
    assert gateway.returncode in {0, -signal.SIGTERM}


def test_time_series_outage_under_load_spools_then_replays_every_point_exactly_once(
    mosquitto: Mosquitto,
    victoria_metrics_factory: Callable[..., VictoriaMetrics],
    start_gateway: Callable[..., Gateway],  # noqa: F811
) -> None:
    vm = victoria_metrics_factory()
    gateway = start_gateway(mosquitto.url, vm.url)
    devices = [f"wm-{n}" for n in range(8)]
    per_device = 500
    total = len(devices) * per_device
    publisher = publish_stream(mosquitto.url, "outage-publisher", devices, per_device, 800)
    assert wait_until(lambda: gateway.metrics.points_written._value.get() >= 800, 60)
    vm.stop()
    spool_seen: list[float] = []

    def spool_points() -> float:
        value = metric_value(metrics_text(gateway.api_url), "housecall_spool_points")
        spool_seen.append(value)
        return value

    assert wait_until(lambda: spool_points() >= 1000, 60)
    assert metric_value(metrics_text(gateway.api_url), "housecall_storage_lag_seconds") > 0
    assert metric_value(metrics_text(gateway.api_url), "housecall_timeseries_up") == 0
    vm.start()  # same port, same data
    publisher.join(120)
    assert wait_until(lambda: gateway.metrics.points_written._value.get() >= total, 120)
    assert wait_until(lambda: spool_points() == 0, 30)
    peak = max(spool_seen)
    assert peak >= 1000
    assert spool_seen[-1] == 0
    assert metric_value(metrics_text(gateway.api_url), "housecall_timeseries_write_failures_total")
    assert_exactly_once(vm, devices, per_device)
