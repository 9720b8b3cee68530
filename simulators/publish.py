"""Send a simulated fleet to a broker, or to a JSONL file for replay.

Publishing goes through :class:`edge.publisher.MqttPublisher`, the code the edge
agent uses, so what a fleet run proves about delivery (QoS 1, a bounded window of
unacknowledged messages, births and status retained) holds for the agent too.
Many simulated devices share one connection; each device's own messages keep
their order because one connection delivers in order.

``speed`` paces the run: device seconds per wall second (1000 replays a day in
under a minute and a half); ``None`` publishes as fast as the broker acknowledges.

The JSONL format, one message per line::

    {"ts": "2026-06-01T00:00:17Z", "topic": "appliances/ac-000001/telemetry",
     "payload": "{\\"schema\\": ...}", "retain": false}

``payload`` is the exact UTF-8 text of the MQTT payload (every contract payload is
UTF-8), so :func:`read_jsonl` gives back the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson

from edge.contract import parse_topic
from edge.mqtt_url import MqttUrl
from edge.publisher import MqttPublisher
from simulators.faults import FaultTruth
from simulators.fleet import SimMessage

Progress = Callable[[SimMessage], None]


@dataclass
class PublishReport:
    """What a publishing run did."""

    published: int = 0
    acknowledged: int = 0
    wall_s: float = 0.0
    all_acked: bool = False


def publish_fleet(
    messages: Iterable[SimMessage],
    url: MqttUrl,
    *,
    client_id: str = "housecall-simulator",
    max_inflight: int = 1000,
    speed: float | None = None,
    on_message: Progress | None = None,
    flush_timeout_s: float = 60.0,
) -> PublishReport:
    """Publish every message (QoS 1, retained where the contract says) and wait for the acks."""
    if speed is not None and speed <= 0:
        raise ValueError("speed must be > 0 device seconds per wall second")
    report = PublishReport()
    publisher = MqttPublisher(url, client_id, max_inflight=max_inflight)
    publisher.connect()
    started = time.monotonic()
    first_epoch: float | None = None
    try:
        for msg in messages:
            if speed is not None:
                if first_epoch is None:
                    first_epoch = msg.epoch_s
                due = started + (msg.epoch_s - first_epoch) / speed
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            publisher.publish(msg.topic, msg.payload, retain=msg.retain)
            report.published += 1
            if on_message is not None:
                on_message(msg)
    finally:
        report.all_acked = publisher.close(flush_timeout_s)
        report.acknowledged = publisher.acked
        report.wall_s = time.monotonic() - started
    return report


def write_jsonl(
    messages: Iterable[SimMessage], out: IO[bytes], *, on_message: Progress | None = None
) -> int:
    """Write messages as JSONL (see the module docstring); returns how many were written."""
    count = 0
    for msg in messages:
        line = {
            "ts": datetime.fromtimestamp(msg.epoch_s, UTC).isoformat().replace("+00:00", "Z"),
            "topic": msg.topic,
            "payload": msg.payload.decode("utf-8"),
            "retain": msg.retain,
        }
        out.write(orjson.dumps(line))
        out.write(b"\n")
        count += 1
        if on_message is not None:
            on_message(msg)
    return count


def read_jsonl(path: str | Path) -> Iterator[SimMessage]:
    """Read a file written by :func:`write_jsonl` back as messages, in file order."""
    with Path(path).open("rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            raw = orjson.loads(line)
            address = parse_topic(raw["topic"])
            epoch = datetime.fromisoformat(raw["ts"]).timestamp()
            yield SimMessage(
                epoch,
                address.device_id,
                raw["topic"],
                raw["payload"].encode("utf-8"),
                bool(raw.get("retain", False)),
                address.channel,
            )


def read_truth(path: str | Path) -> list[FaultTruth]:
    """Ground truth written by :func:`write_truth` (or ``housecall simulate --truth``)."""
    with Path(path).open("rb") as handle:
        return [FaultTruth.from_json(orjson.loads(line)) for line in handle if line.strip()]


def write_truth(truth: Iterable[FaultTruth], path: str | Path) -> int:
    """Ground truth as JSONL, one injected fault per line; returns the number of lines."""
    count = 0
    with Path(path).open("wb") as handle:
        for item in truth:
            handle.write(orjson.dumps(item.to_json()) + b"\n")
            count += 1
    return count
