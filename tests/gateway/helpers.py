"""Helpers for the gateway tests: contract-valid messages and a plain QoS 1 publisher."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import uvicorn
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion

from edge.mqtt_url import MqttUrl
from gateway.pipeline import RawMessage

T0 = datetime(2026, 7, 14, 12, 0, tzinfo=UTC)


def birth(
    device_id: str, *, kind: str = "ac", model: str = "AUR-S35-INV", brand: str = "Aurora"
) -> tuple[str, bytes]:
    body: dict[str, Any] = {
        "schema": "housecall.birth/1",
        "device_id": device_id,
        "kind": kind,
        "brand": brand,
        "model": model,
        "firmware": "3.4.1",
        "region": "CN-32",
        "warranty_until": "2027-05-02",
        "ts": T0.isoformat(),
    }
    if kind == "ac":
        body["refrigerant"] = "R32"
    return f"appliances/{device_id}/birth", orjson.dumps(body)


def telemetry(device_id: str, seq: int, **readings: Any) -> tuple[str, bytes]:
    values: dict[str, Any] = {
        "mode": "cool",
        "setpoint_c": 24.0,
        "room_temp_c": 26.5,
        "compressor_hz": 40.0 + seq % 7,
        "power_w": 900.0 + seq,
    }
    values.update(readings)
    body = {
        "schema": "housecall.telemetry/1",
        "device_id": device_id,
        "seq": seq,
        "ts": (T0 + timedelta(seconds=60 * seq)).isoformat(),
        "readings": values,
    }
    return f"appliances/{device_id}/telemetry", orjson.dumps(body)


def cycle_end(device_id: str, seq: int) -> tuple[str, bytes]:
    body = {
        "schema": "housecall.event/1",
        "device_id": device_id,
        "seq": seq,
        "ts": (T0 + timedelta(hours=seq)).isoformat(),
        "type": "cycle_end",
        "data": {
            "program": "cotton",
            "duration_s": 5820,
            "drain_time_s": 41.0,
            "unbalance_retries": 1,
        },
    }
    return f"appliances/{device_id}/events", orjson.dumps(body)


def raw(message: tuple[str, bytes]) -> RawMessage:
    return RawMessage(message[0], message[1])


class Publisher:
    """A paho QoS 1 publisher with a bounded window; never holds a lock across paho calls."""

    def __init__(self, url: str, client_id: str, *, window: int = 500) -> None:
        parsed = MqttUrl.parse(url)
        self._window = threading.Semaphore(window)
        self.acked = 0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self._client.max_inflight_messages_set(window)
        self._client.on_publish = self._on_publish
        self._client.connect(parsed.host, parsed.port)
        self._client.loop_start()

    def _on_publish(self, *_: Any) -> None:
        self.acked += 1
        self._window.release()

    def publish(self, message: tuple[str, bytes], *, retain: bool = False) -> None:
        self._window.acquire()
        self._client.publish(message[0], message[1], qos=1, retain=retain)

    def close(self, timeout_s: float = 30.0, sent: int | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        while sent is not None and self.acked < sent and time.monotonic() < deadline:
            time.sleep(0.01)
        self._client.disconnect()
        self._client.loop_stop()


def wait_until(condition: Any, timeout_s: float = 30.0, interval_s: float = 0.1) -> bool:
    """Poll ``condition()`` until it is truthy or the time is up; returns the last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval_s)


def metric_value(metrics_text: str, name: str) -> float:
    """One sample's value from a Prometheus text page (0 when absent)."""
    for line in metrics_text.splitlines():
        if line.startswith((name + " ", name + "{")):
            if line.startswith(name + " ") or line.split(" ")[0] == name:
                return float(line.rsplit(" ", 1)[1])
            if "{" in name or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@contextmanager
def serve(app: FastAPI) -> Iterator[httpx.Client]:
    """Run ``app`` under a real uvicorn on a free port; yields a client for it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)
