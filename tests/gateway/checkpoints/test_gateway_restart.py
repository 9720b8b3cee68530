"""A real ``housecall gateway`` SIGKILLed mid-stream keeps everything its detectors learned.

A small simulated fleet is published through a real Mosquitto (persistent session) to
the gateway process, checkpointing every second. The gateway is SIGKILLed part-way,
restarted, fed the rest and stopped with SIGTERM (its final checkpoint). The detector
state in the store must then equal, byte for byte per device, that of a detector fed the
same messages in one uninterrupted run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from detectors.fleet import HousecallDetector
from edge.contract import Birth, EventBase, Telemetry, parse_message
from gateway.checkpoints import DetectorCheckpointer
from gateway.db import make_engine
from gateway.timeseries.embedded import StoredSample
from simulators.fleet import FleetConfig, simulate
from tests.gateway.helpers import Publisher, metric_value, wait_until
from tests.servers import Mosquitto, free_port

pytestmark = pytest.mark.slow

HOUSECALL = Path(sys.executable).parent / "housecall"
CLIENT_ID = "gw-state-test"


def metrics_text(api_url: str) -> str:
    try:
        return httpx.get(f"{api_url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return ""


def stored(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(StoredSample)).scalar() or 0
            )
    except Exception:  # the table may not exist yet
        return 0
    finally:
        engine.dispose()


def test_detector_state_after_a_sigkill_equals_an_uninterrupted_run(
    mosquitto_factory: Callable[..., Mosquitto], database_url: str, tmp_path: Path
) -> None:
    config = FleetConfig(devices=6, days=1.0, seed=31)
    messages = [(m.topic, m.payload, m.retain) for m in simulate(config)]
    reference = HousecallDetector()
    samples = 0
    for topic, payload, _ in messages:
        message = parse_message(topic, payload).payload
        if isinstance(message, Birth):
            reference.on_birth(message)
        elif isinstance(message, Telemetry):
            reference.on_telemetry(message)
            samples += 1
        elif isinstance(message, EventBase):
            reference.on_event(message)
            samples += 1

    broker = mosquitto_factory(persistence=True)
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    log_path = tmp_path / "gateway.log"
    log = log_path.open("ab")

    def launch() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                str(HOUSECALL), "gateway", "--mqtt-url", broker.url,
                "--database-url", database_url, "--api-port", str(api_port),
                "--client-id", CLIENT_ID, "--spool-dir", str(tmp_path / "spool"),
            ],
            stdout=log,
            stderr=log,
            cwd=tmp_path,
            env={
                **os.environ,
                "HOUSECALL_CHECKPOINT_INTERVAL_S": "3600",
                "HOUSECALL_CHECKPOINT_MAX_JOURNAL": "2000",
            },
        )  # fmt: skip
        ready = wait_until(lambda: "housecall_mqtt_connected 1.0" in metrics_text(api_url), 180)
        if not ready:
            process.kill()
            process.wait(10)
        assert ready, log_path.read_text()[-3000:]
        return process

    gateway = launch()
    try:
        publisher = Publisher(broker.url, "state-publisher")
        half = len(messages) // 2
        for topic, payload, retain in messages[:half]:
            publisher.publish((topic, payload), retain=retain)
        assert wait_until(
            lambda: (
                metric_value(metrics_text(api_url), "housecall_detector_checkpoints_total") >= 1
            ),
            60,
        ), log_path.read_text()[-3000:]
        os.kill(gateway.pid, signal.SIGKILL)
        gateway.wait(10)
        for topic, payload, retain in messages[half:]:
            publisher.publish((topic, payload), retain=retain)
        publisher.close(timeout_s=120, sent=len(messages))
        gateway = launch()
        assert wait_until(lambda: stored(database_url) >= samples, 180, 0.5), log_path.read_text()[
            -3000:
        ]
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(60)
    finally:
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait(10)
        log.close()
    starts = re.findall(r"(\d+) journaled messages replayed", log_path.read_text())
    assert len(starts) == 2
    assert int(starts[1]) > 0, "the restart replayed what the crash left in the journal"

    engine = make_engine(database_url)
    restored = HousecallDetector()
    report = DetectorCheckpointer(engine, restored, scope=CLIENT_ID).restore()
    engine.dispose()
    assert report.replayed_messages == 0, "SIGTERM writes a final checkpoint"
    assert sorted(restored.devices) == sorted(reference.devices)
    for device_id in reference.devices:
        assert restored.snapshot(device_id) == reference.snapshot(device_id), device_id
