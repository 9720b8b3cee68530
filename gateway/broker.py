"""The embedded MQTT broker used when ``HOUSECALL_MQTT_URL`` is unset (the demo, a laptop).

Preference order, decided once at start:

1. **Mosquitto**, spawned as a child process when its binary is installed: the
   same broker production and the tests use, MQTT 5, with persistence in
   ``data_dir`` so sessions survive a gateway restart (stopped with SIGTERM so it
   saves them);
2. **amqtt**, pure Python, in a thread of this process: nothing to install, but
   MQTT 3.1.1 only, so clients (the ingest included) must speak 3.1.1.

Both listen on loopback only; :attr:`EmbeddedBroker.url` says where.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.mqtt_url import MqttUrl

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 1883
MOSQUITTO_SEARCH = (
    "/usr/sbin/mosquitto",
    "/usr/local/sbin/mosquitto",
    "/opt/homebrew/sbin/mosquitto",
)


@dataclass(frozen=True, slots=True)
class BrokerEndpoint:
    url: MqttUrl
    #: MQTT protocol level the broker speaks: 5, or 4 (3.1.1) for amqtt.
    protocol: int
    implementation: str


def find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((path for path in MOSQUITTO_SEARCH if Path(path).exists()), None)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, timeout_s: float, alive: Any = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError("embedded broker exited before listening")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"embedded broker not listening on {LOOPBACK}:{port} after {timeout_s} s")


class EmbeddedBroker:
    """Start/stop a broker on loopback: Mosquitto if installed, else amqtt in-process."""

    def __init__(self, data_dir: Path, *, port: int | None = None, prefer: str = "auto") -> None:
        if prefer not in {"auto", "mosquitto", "amqtt"}:
            raise ValueError("prefer must be auto, mosquitto or amqtt")
        self.data_dir = data_dir
        self.requested_port = port
        self.prefer = prefer
        self.endpoint: BrokerEndpoint | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._amqtt_loop: asyncio.AbstractEventLoop | None = None
        self._amqtt_thread: threading.Thread | None = None
        self._amqtt_broker: Any = None

    def _choose_port(self) -> int:
        if self.requested_port:
            return self.requested_port
        return DEFAULT_PORT if _port_free(DEFAULT_PORT) else _free_port()

    def start(self) -> BrokerEndpoint:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        binary = find_mosquitto() if self.prefer in {"auto", "mosquitto"} else None
        if self.prefer == "mosquitto" and binary is None:
            raise RuntimeError("mosquitto is not installed")
        port = self._choose_port()
        if binary is not None:
            self.endpoint = self._start_mosquitto(binary, port)
        else:
            self.endpoint = self._start_amqtt(port)
        log.info("embedded MQTT broker (%s) at %s", self.endpoint.implementation, self.endpoint.url)
        return self.endpoint

    def _start_mosquitto(self, binary: str, port: int) -> BrokerEndpoint:
        config = self.data_dir / "mosquitto.conf"
        config.write_text(
            "\n".join(
                [
                    f"listener {port} {LOOPBACK}",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {self.data_dir}/",
                    "autosave_interval 60",
                    "max_queued_messages 100000",
                    "max_inflight_messages 0",
                    "persistent_client_expiration 7d",
                    f"log_dest file {self.data_dir / 'mosquitto.log'}",
                    "log_type error",
                    "log_type warning",
                    # Started by root, Mosquitto would drop to a user that cannot write here.
                    *(["user root"] if os.geteuid() == 0 else []),
                ]
            )
            + "\n"
        )
        self._process = subprocess.Popen(
            [binary, "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        process = self._process
        _wait_listening(port, 15, alive=lambda: process.poll() is None)
        return BrokerEndpoint(MqttUrl(LOOPBACK, port), 5, "mosquitto")

    def _start_amqtt(self, port: int) -> BrokerEndpoint:
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{LOOPBACK}:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._amqtt_broker = Broker(config, loop=loop)
                loop.run_until_complete(self._amqtt_broker.start())
            except BaseException as err:
                failure.append(err)
                started.set()
                return
            started.set()
            loop.run_forever()

        self._amqtt_loop = loop
        self._amqtt_thread = threading.Thread(target=run, name="housecall-amqtt", daemon=True)
        self._amqtt_thread.start()
        started.wait(30)
        if failure:
            raise RuntimeError(f"amqtt broker failed to start: {failure[0]}")
        # Listening once start() returned; no probe connection (amqtt logs and leaks on those).
        return BrokerEndpoint(MqttUrl(LOOPBACK, port), 4, "amqtt")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)  # lets Mosquitto save its sessions
            try:
                self._process.wait(20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        if self._amqtt_loop is not None and self._amqtt_broker is not None:
            loop = self._amqtt_loop
            future = asyncio.run_coroutine_threadsafe(self._amqtt_broker.shutdown(), loop)
            try:
                future.result(15)
            except Exception:
                log.warning("amqtt shutdown failed", exc_info=True)
            loop.call_soon_threadsafe(loop.stop)
            if self._amqtt_thread is not None:
                self._amqtt_thread.join(15)
            self._amqtt_loop = None
