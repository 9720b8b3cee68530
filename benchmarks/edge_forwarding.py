"""Edge forwarding throughput: the agent with its durable outbox beside a plain relay.

Two real Mosquitto brokers (home and upstream). For each relay, N telemetry messages
from 10 devices are queued on the home broker for the relay's persistent session
before it starts; the relay then drains them upstream (QoS 1 both sides) and an
upstream subscriber times the first to the last arrival. Both relays run in this
process, one after the other, in the same run, so the ratio is like for like.

- ``plain relay``: the agent's loop without the outbox: :class:`edge.local_inbox.LocalInbox`
  batch -> :class:`edge.publisher.MqttPublisher` -> home ack right away; bytes copied as
  they are: no validation, no ``via``, nothing on disk.
- ``edge agent``: :class:`edge.agent.EdgeAgent`: contract validation, ``via`` stamping,
  one fsync'd SQLite WAL commit per batch (synchronous=FULL) before the home ack,
  upstream ack -> delete (another commit).

    .venv/bin/python -m benchmarks.edge_forwarding [--messages 20000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from rich.console import Console
from rich.table import Table

from edge.agent import EdgeAgent, EdgeConfig
from edge.local_inbox import LocalInbox
from edge.mqtt_url import MqttUrl
from edge.publisher import MqttPublisher
from tests.edge.edge_helpers import telemetry
from tests.servers import Mosquitto

DEVICES = 10


def session_client(url: str, client_id: str, **kwargs: Any) -> mqtt.Client:
    """A paho MQTT 5 client with a persistent session, connected and looping."""
    parsed = MqttUrl.parse(url)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, **kwargs
    )
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect(parsed.host, parsed.port, clean_start=False, properties=props)
    client.loop_start()
    return client


def make_session(url: str, client_id: str) -> None:
    """Create a subscriber's session so the broker queues messages for it while it is away."""
    done = threading.Event()
    client = session_client(url, client_id)
    client.on_subscribe = lambda *_: done.set()
    client.subscribe("appliances/+/+", qos=1)
    if not done.wait(10):
        raise RuntimeError("could not subscribe")
    client.disconnect()
    client.loop_stop()


class Counter:
    """Counts telemetry arriving upstream; notes the first and last arrival times."""

    def __init__(self, url: str, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.first = self.last = 0.0
        self.done = threading.Event()
        subscribed = threading.Event()
        self.client = session_client(url, f"counter-{uuid.uuid4().hex[:6]}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.subscribe("appliances/+/telemetry", qos=1)
        if not subscribed.wait(10):
            raise RuntimeError("counter could not subscribe")

    def _on_message(self, *_: Any) -> None:
        now = time.perf_counter()
        if self.count == 0:
            self.first = now
        self.count += 1
        self.last = now
        if self.count >= self.expected:
            self.done.set()

    def rate(self) -> float:
        return (self.count - 1) / (self.last - self.first) if self.last > self.first else 0.0

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def preload(url: str, n: int) -> None:
    with MqttPublisher(MqttUrl.parse(url), f"load-{uuid.uuid4().hex[:6]}") as pub:
        for i in range(n):
            device = f"ac-{i % DEVICES}"
            pub.publish(f"appliances/{device}/telemetry", telemetry(device, i // DEVICES))


def run_plain_relay(local: Mosquitto, upstream: Mosquitto, n: int) -> float:
    """The agent's loop without the outbox: take a batch, publish it upstream, ack home."""
    client_id = f"relay-{uuid.uuid4().hex[:6]}"
    make_session(local.url, client_id)
    preload(local.url, n)
    counter = Counter(upstream.url, n)
    out = MqttPublisher(MqttUrl.parse(upstream.url), client_id, max_inflight=500)
    out.connect()
    inbox = LocalInbox(MqttUrl.parse(local.url), client_id, ["appliances/+/+"])
    inbox.start()
    deadline = time.monotonic() + 300
    try:
        while not counter.done.is_set() and time.monotonic() < deadline:
            for message in inbox.take(1000, wait_s=0.02):
                out.publish(message.topic, message.payload, retain=message.retain)
                inbox.ack(message)
        if not counter.done.is_set():
            raise RuntimeError(f"plain relay delivered only {counter.count}/{n}")
        return counter.rate()
    finally:
        inbox.stop()
        out.close()
        counter.close()


def run_edge_agent(local: Mosquitto, upstream: Mosquitto, n: int, workdir: Path) -> float:
    config = EdgeConfig(
        local_url=MqttUrl.parse(local.url),
        upstream_url=MqttUrl.parse(upstream.url),
        edge_id="bench",
        outbox_path=workdir / "outbox.db",
        disk_budget_bytes=1024**3,
        replay_rate=0,
        status_interval_s=60,
    )
    make_session(local.url, "housecall-edge-bench")
    preload(local.url, n)
    counter = Counter(upstream.url, n)
    agent = EdgeAgent(config)
    stop = threading.Event()
    agent.start()
    thread = threading.Thread(target=agent.run, args=(stop,))
    thread.start()
    try:
        if not counter.done.wait(300):
            raise RuntimeError(f"edge agent delivered only {counter.count}/{n}")
        return counter.rate()
    finally:
        stop.set()
        thread.join(30)
        agent.close()
        counter.close()


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Measure both relays, print the table, and return the figures (msg/s and ratio)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="housecall-bench-edge-"))
    local = Mosquitto(workdir / "local").start()
    upstream = Mosquitto(workdir / "upstream").start()
    console = Console()
    try:
        with console.status("plain relay (no outbox)..."):
            plain = run_plain_relay(local, upstream, args.messages)
        with console.status("edge agent (SQLite WAL outbox, synchronous=FULL)..."):
            agent = run_edge_agent(local, upstream, args.messages, workdir)
    finally:
        local.stop()
        upstream.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    table = Table(title=f"edge forwarding, {args.messages} QoS 1 telemetry messages")
    table.add_column("relay")
    table.add_column("msg/s", justify="right")
    table.add_row("plain broker-to-broker relay (no outbox)", f"{plain:,.0f}")
    table.add_row("edge agent with durable outbox", f"{agent:,.0f}")
    table.add_row("ratio agent / plain", f"{agent / plain:.2f}")
    console.print(table)
    return {"plain_msg_per_s": plain, "agent_msg_per_s": agent, "ratio": agent / plain}


if __name__ == "__main__":
    main()
