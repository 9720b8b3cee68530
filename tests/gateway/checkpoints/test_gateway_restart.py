"""A real ``housecall gateway`` SIGKILLed mid-stream keeps everything its detectors learned.

A small simulated fleet is published through a real Mosquitto (persistent session) to
the gateway process in three parts: a clean stop after the first (its final checkpoint),
a SIGKILL halfway through the second (the rest of it is redelivered), a clean stop after
the third. The detector state in the store must then equal, byte for byte per device,
that of a detector fed the same messages in one uninterrupted run.
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

from detectors.api import feed
from detectors.fleet import HousecallDetector
from edge.contract import EventBase, Telemetry, parse_message
from gateway.checkpoints import DetectorCheckpointer
from gateway.db import make_engine
from gateway.timeseries.embedded import StoredSample
from simulators.fleet import FleetConfig, simulate
from tests.gateway.helpers import Publisher, wait_until
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
        feed(reference, message)
        samples += isinstance(message, Telemetry | EventBase)

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
                "HOUSECALL_CHECKPOINT_INTERVAL_S": "86400",  # only the final ones
                "HOUSECALL_CHECKPOINT_MAX_JOURNAL": "10000000",
            },
        )  # fmt: skip
        ready = wait_until(lambda: "housecall_mqtt_connected 1.0" in metrics_text(api_url), 180)
        if not ready:
            process.kill()
            process.wait(10)
        assert ready, log_path.read_text()[-3000:]
        return process

    def samples_in(part: list[tuple[str, bytes, bool]]) -> int:
        return sum(1 for topic, _, _ in part if not topic.endswith(("/birth", "/status")))

    def publish(part: list[tuple[str, bytes, bool]]) -> None:
        publisher = Publisher(broker.url, "state-publisher")
        for topic, payload, retain in part:
            publisher.publish((topic, payload), retain=retain)
        publisher.close(timeout_s=120, sent=len(part))

    def stop(process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGTERM)
        process.wait(60)

    third = len(messages) // 3
    parts = [messages[:third], messages[third : 2 * third], messages[2 * third :]]
    done = 0
    gateway = launch()
    try:
        # 1. A clean stop: the final checkpoint holds everything so far.
        publish(parts[0])
        done += samples_in(parts[0])
        assert wait_until(lambda: stored(database_url) >= done, 180, 0.5), log_path.read_text()
        stop(gateway)
        # 2. A crash mid-stream: what was stored since the checkpoint is only in the journal;
        #    what was not yet acknowledged stays with the broker's persistent session.
        gateway = launch()
        publish(parts[1])
        halfway = done + samples_in(parts[1]) // 2
        assert wait_until(lambda: stored(database_url) >= halfway, 180, 0.2)
        os.kill(gateway.pid, signal.SIGKILL)
        gateway.wait(10)
        done += samples_in(parts[1])
        # 3. Restore checkpoint and journal, take the redelivered rest and a new part, stop.
        gateway = launch()
        publish(parts[2])
        done += samples_in(parts[2])
        assert wait_until(lambda: stored(database_url) >= done, 180, 0.5), log_path.read_text()
        stop(gateway)
    finally:
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait(10)
        log.close()
    assert done == samples
    starts = [
        int(n) for n in re.findall(r"(\d+) journaled messages replayed", log_path.read_text())
    ]
    assert len(starts) == 3
    assert starts[1] == 0, "a clean stop leaves nothing to replay"
    assert starts[2] > 0, "the restart after the crash replayed the journal"

    engine = make_engine(database_url)
    restored = HousecallDetector()
    report = DetectorCheckpointer(engine, restored, scope=CLIENT_ID).restore()
    engine.dispose()
    assert report.replayed_messages == 0, "SIGTERM writes a final checkpoint"
    assert sorted(restored.devices) == sorted(reference.devices)
    for device_id in reference.devices:
        assert restored.snapshot(device_id) == reference.snapshot(device_id), device_id
