"""The edge agent: home broker -> durable outbox -> upstream broker, one readable loop.

Input, processor, output, with acknowledgements flowing back (Telegraf's shape):

1. :class:`~edge.local_inbox.LocalInbox` receives ``appliances/+/+`` and
   ``local/+/vibration_raw`` from the home broker (persistent session, manual acks).
2. Each batch is validated with :func:`edge.contract.parse_message`, stamped with
   ``"via": "<edge_id>"`` (JSON payloads; the bare-text ``status`` stays as it is), raw
   vibration bursts become ``x_`` features held for the device's next telemetry, and
   the batch is committed to the :class:`~edge.outbox.Outbox` (fsync'd). Only then are
   the batch's messages acknowledged to the home broker.
3. Rows are published upstream in acceptance order (so in order per device), QoS 1,
   birth and status retained, through :class:`~edge.publisher.MqttPublisher`; a row
   leaves the outbox only when upstream acknowledged it.

Replay: a telemetry or event row accepted before the current upstream connection came up
(an outage, or a previous run of the agent), or older than ``replay_age_s``, is sent with
``"replay": true`` so the gateway does not treat stale data as live, at most
``replay_rate`` such messages per second (token bucket) so a home link that just came
back is not flooded. Live rows are not throttled. (The at most ``max_inflight`` messages
already in flight when a link drops are re-sent by paho as they were, unmarked.)

Invalid local messages (outside the contract) are NOT forwarded: they are kept in the
outbox file's ``dead_letters`` table with their reason, counted per reason, acknowledged
(a poison message must not block the stream) and reported in the agent's status. Raw
bursts that cannot be analysed go there too, with reason ``invalid_burst``.

Topics the agent itself publishes upstream (and mirrors on the home broker):

- ``appliances/<edge_id>/status``: bare ``online`` (retained) after every connect;
  ``offline`` (retained) as the MQTT last will and on a clean shutdown, exactly like an
  appliance's status, so the gateway's status handling covers the agent too.
- ``edge/<edge_id>/status``: retained JSON (schema ``housecall.edge_status/1``) with the
  outbox size against the budget, counts accepted / forwarded / replayed, every drop
  (``dropped.telemetry_over_budget`` in total and per device), dead letters per reason
  and feature counts. Published every ``status_interval_s``, and within a second of
  any new drop or dead letter. This topic is outside ``appliances/``, so the appliance
  contract's topics stay exactly as specified.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from edge.contract import (
    APPLIANCE_SUBSCRIPTION,
    DEFAULT_MAX_PAYLOAD_BYTES,
    RETAINED_CHANNELS,
    Channel,
    ContractViolation,
    Status,
    is_valid_device_id,
    parse_message,
    status_topic,
)
from edge.features import FeatureError, vibration_features
from edge.local_inbox import LocalInbox, LocalMessage
from edge.mqtt_url import MqttUrl
from edge.outbox import DEAD_LETTER_PREFIX, Batch, Outbox, OutboxRow
from edge.publisher import MqttPublisher, PublishError, Will
from edge.vibration_burst import BURST_SUBSCRIPTION, BurstError, is_burst_topic, parse_burst

log = logging.getLogger(__name__)

EDGE_STATUS_SCHEMA = "housecall.edge_status/1"
INVALID_BURST = "invalid_burst"
STATUS_HEADROOM = 8
_REPLAYABLE = frozenset({Channel.TELEMETRY.value, Channel.EVENTS.value})


def edge_status_topic(edge_id: str) -> str:
    """``edge/<edge_id>/status``: the agent's own retained JSON status."""
    return f"edge/{edge_id}/status"


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    """Everything ``housecall edge`` takes; see the module docstring for the behaviour."""

    local_url: MqttUrl
    upstream_url: MqttUrl
    edge_id: str
    outbox_path: Path
    disk_budget_bytes: int
    replay_rate: float = 500.0  # replayed messages per second; 0 = unbounded
    replay_age_s: float = 30.0
    max_inflight: int = 500
    status_interval_s: float = 10.0
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    batch_size: int = 1000
    upstream_wait_s: float = 5.0  # how long start() waits for upstream before going on
    local_wait_s: float = 10.0  # ... and for the home subscription

    def __post_init__(self) -> None:
        if not is_valid_device_id(self.edge_id):
            raise ValueError(f"edge id {self.edge_id!r} must match ^[A-Za-z0-9_-]{{1,64}}$")
        if self.disk_budget_bytes <= 0:
            raise ValueError("the disk budget must be positive")
        if self.replay_rate < 0:
            raise ValueError("the replay rate must be >= 0 (0 means unbounded)")
        if self.max_inflight < 1:
            raise ValueError("max in-flight must be at least 1")


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; rate 0 = unbounded."""

    rate: float
    burst: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class EdgeAgent:
    """Store-and-forward from the home broker to upstream; drive it with :meth:`run`."""

    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.outbox = Outbox(config.outbox_path, budget_bytes=config.disk_budget_bytes)
        client_id = f"housecall-edge-{config.edge_id}"
        self.local = LocalInbox(
            config.local_url,
            client_id,
            [APPLIANCE_SUBSCRIPTION, BURST_SUBSCRIPTION],
            receive_maximum=max(config.batch_size * 2, 100),
        )
        self.upstream = MqttPublisher(
            config.upstream_url,
            client_id,
            max_inflight=config.max_inflight + STATUS_HEADROOM,
            will=Will(status_topic(config.edge_id), Status.OFFLINE.value.encode()),
            session_expiry_s=7 * 24 * 3600,
        )
        self._acked: collections.deque[int] = collections.deque()
        self._replay_ids: set[int] = set()
        self._last_sent_id = 0
        self._was_connected = False
        self._connected_since = float("inf")
        self._bucket = TokenBucket(
            config.replay_rate, burst=max(1.0, config.replay_rate / 10), tokens=1.0
        )
        self._next_status_at = 0.0
        self._status_dirty = False
        self._started = False
        self.final_status: dict[str, Any] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Connect upstream (waiting briefly so a fresh start is not a 'replay'), then home."""
        self.upstream.connect_in_background()
        deadline = time.monotonic() + self.config.upstream_wait_s
        while time.monotonic() < deadline and not self.upstream.connected:
            time.sleep(0.02)
        self._track_upstream()
        self.local.start()
        # Waiting for the home subscription means a status report implies "receiving".
        self.local.wait_subscribed(self.config.local_wait_s)
        self._started = True

    def run(self, stop: threading.Event) -> None:
        """The loop: accept a batch, settle upstream acks, forward, report; until ``stop``."""
        if not self._started:
            self.start()
        while not stop.is_set():
            self.step(wait_s=0.02)

    def step(self, wait_s: float = 0.0) -> None:
        """One turn of the loop (tests drive it directly)."""
        batch = self.local.take(self.config.batch_size, wait_s)
        if batch:
            self._accept(batch)
        self._settle_acks()
        self._track_upstream()
        self._forward()
        self._maybe_publish_status()

    def close(self, flush_timeout_s: float = 2.0) -> None:
        """Stop taking local messages, give upstream a moment for acks, say offline."""
        self.local.stop()
        deadline = time.monotonic() + flush_timeout_s
        while self.upstream.inflight and time.monotonic() < deadline:
            time.sleep(0.01)
        self._settle_acks()
        if self.upstream.connected:
            self._publish_status(force_upstream=True, state="offline")
            self.upstream.publish(
                status_topic(self.config.edge_id), Status.OFFLINE.value.encode(), retain=True
            )
        self.upstream.close(flush_timeout_s)
        self._settle_acks()
        self.final_status = self.status("offline")
        self.outbox.close()

    # -- accept: local message -> outbox -> local ack ------------------------------------

    def _accept(self, batch: list[LocalMessage]) -> None:
        before = self._problem_count()
        with self.outbox.transaction(droppable_after_id=self._last_sent_id) as tx:
            for message in batch:
                self._accept_one(tx, message)
        for message in batch:  # durable now: the home broker may forget them
            self.local.ack(message)
        if self._problem_count() != before:
            self._status_dirty = True

    def _accept_one(self, tx: Batch, message: LocalMessage) -> None:
        if is_burst_topic(message.topic):
            self._accept_burst(tx, message)
            return
        try:
            inbound = parse_message(
                message.topic, message.payload, max_bytes=self.config.max_payload_bytes
            )
        except ContractViolation as err:
            tx.dead_letter(message.topic, err.reason.value, err.detail, message.payload)
            return
        channel = inbound.channel
        if channel is Channel.STATUS:
            payload = str(inbound.payload).encode()  # bare text, as the contract says
        else:
            body: dict[str, Any] = orjson.loads(message.payload)  # keeps unknown fields
            body["via"] = self.config.edge_id
            if channel is Channel.TELEMETRY:
                features = tx.take_features(inbound.device_id)
                if features and isinstance(body.get("readings"), dict):
                    for name, value in features.items():
                        body["readings"].setdefault(name, value)  # firmware's own value wins
            payload = orjson.dumps(body)
        tx.add(
            inbound.device_id, channel.value, message.topic, payload, channel in RETAINED_CHANNELS
        )

    def _accept_burst(self, tx: Batch, message: LocalMessage) -> None:
        try:
            burst = parse_burst(message.topic, message.payload)
            features = vibration_features(
                burst.samples(), burst.sample_rate_hz, burst.rpm, burst.geometry()
            )
        except (BurstError, FeatureError) as err:
            tx.dead_letter(message.topic, INVALID_BURST, str(err), message.payload)
            return
        tx.put_features(burst.device_id, features, burst.ts.isoformat())

    # -- forward: outbox -> upstream, acks -> forget --------------------------------------

    def _settle_acks(self) -> None:
        ids: list[int] = []
        while self._acked:
            ids.append(self._acked.popleft())
        if not ids:
            return
        replayed = sum(1 for i in ids if i in self._replay_ids)
        self._replay_ids.difference_update(ids)
        self.outbox.forget(ids, extra_counts={"forwarded.replay": replayed} if replayed else None)

    def _track_upstream(self) -> None:
        connected = self.upstream.connected
        if connected and not self._was_connected:
            self._connected_since = time.time()
            log.info("upstream %s connected", self.config.upstream_url)
            self.upstream.publish(
                status_topic(self.config.edge_id), Status.ONLINE.value.encode(), retain=True
            )
            self._status_dirty = True
            self._next_status_at = 0.0
        self._was_connected = connected

    def _forward(self) -> None:
        if not self.upstream.connected:
            return  # rows wait in the outbox; sent (and marked replay) after reconnecting
        # Keep a few window slots for the agent's own status messages, so publishing them
        # never blocks the loop.
        free = self.config.max_inflight - self.upstream.inflight
        if free <= 0:
            return
        now = time.time()
        for row in self.outbox.next_rows(self._last_sent_id, min(free, 1000)):
            replay = self._is_replay(row, now)
            if replay and not self._bucket.take():
                return
            payload = _mark_replay(row.payload) if replay else row.payload
            try:
                self.upstream.publish(
                    row.topic,
                    payload,
                    retain=row.retain,
                    on_ack=partial(self._acked.append, row.id),
                )
            except PublishError as err:
                log.warning("upstream publish failed, will retry: %s", err)
                return
            if replay:
                self._replay_ids.add(row.id)
            self._last_sent_id = row.id

    def _is_replay(self, row: OutboxRow, now: float) -> bool:
        if row.channel not in _REPLAYABLE:
            return False
        return row.accepted_at < self._connected_since or now - row.accepted_at > (
            self.config.replay_age_s
        )

    # -- status ------------------------------------------------------------------------

    def _problem_count(self) -> int:
        counters = self.outbox.counters()
        return sum(v for k, v in counters.items() if k.startswith(("dropped.", DEAD_LETTER_PREFIX)))

    def _maybe_publish_status(self) -> None:
        now = time.monotonic()
        if now >= self._next_status_at or (
            self._status_dirty and now >= self._next_status_at - self.config.status_interval_s + 1
        ):
            self._publish_status()

    def _publish_status(self, *, force_upstream: bool = False, state: str = "online") -> None:
        payload = orjson.dumps(self.status(state))
        topic = edge_status_topic(self.config.edge_id)
        self.local.publish(topic, payload, retain=True)
        room = self.upstream.inflight < self.config.max_inflight + STATUS_HEADROOM
        if room and (self.upstream.connected or force_upstream):  # never block the loop
            self.upstream.publish(topic, payload, retain=True)
            self._status_dirty = False
        self._next_status_at = time.monotonic() + self.config.status_interval_s

    def status(self, state: str = "online") -> dict[str, Any]:
        """The ``housecall.edge_status/1`` document (see the module docstring)."""
        counters = self.outbox.counters()
        stats = self.outbox.stats()

        def under(prefix: str) -> dict[str, int]:
            return {k[len(prefix) :]: v for k, v in counters.items() if k.startswith(prefix)}

        dead = {k: v for k, v in under(DEAD_LETTER_PREFIX).items() if k != "evicted"}
        oldest = stats.oldest_accepted_at
        return {
            "schema": EDGE_STATUS_SCHEMA,
            "edge_id": self.config.edge_id,
            "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "state": state,
            "upstream_connected": self.upstream.connected,
            "outbox": {
                "rows": stats.rows,
                "bytes": stats.charged_bytes,
                "budget_bytes": stats.budget_bytes,
                "over_budget": stats.over_budget,
                "oldest_age_s": round(time.time() - oldest, 3) if oldest else None,
            },
            "accepted": under("accepted."),
            "forwarded": counters.get("forwarded", 0),
            "replayed": counters.get("forwarded.replay", 0),
            "dropped": {
                "telemetry_over_budget": counters.get("dropped.telemetry_over_budget", 0),
                "by_device": under("dropped_by_device."),
            },
            "dead_letters": {
                "total": sum(dead.values()),
                "by_reason": dead,
                "evicted": counters.get("dead_letters.evicted", 0),
            },
            "features": under("features."),
        }


def _mark_replay(payload: bytes) -> bytes:
    body = orjson.loads(payload)
    body["replay"] = True
    return orjson.dumps(body)
