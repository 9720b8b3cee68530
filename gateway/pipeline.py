"""The one place that knows the order of a message's journey through the gateway.

For a batch of raw MQTT messages (whatever the ingest queue held, up to N):

1. parse each against the contract (``edge.contract.parse_message``); a refusal
   becomes a dead letter with its reason;
2. ``birth``/``status`` update the device registry; telemetry and events are
   de-duplicated by ``(device_id, seq)`` (duplicates and stale ones are counted,
   not stored);
3. accepted ones update the registry (counts, gaps, last seen in device time)
   and go to the detectors (:class:`detectors.api.FleetDetector`);
4. the whole batch is made durable in one step through the one storage seam,
   :class:`gateway.storage.BatchStore` (the real one: SQL transaction with the
   de-duplication marks, time-series spool or embedded store), retried while the
   store is down;
5. the sink (:class:`SignalSink`, the work-order service) sees every accepted
   telemetry/event message with the detectors' signals, in order;
6. the caller acknowledges the batch to the broker: only now.

Nothing here knows MQTT, detector internals or work orders. Tests, the demo and
the evaluation harness call :meth:`Pipeline.process` directly with
:class:`RawMessage` objects (no broker needed).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from detectors.api import FleetDetector, NullDetector, Outcome, Signal
from edge.contract import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    Birth,
    Channel,
    ContractViolation,
    EventBase,
    Status,
    Telemetry,
    parse_message,
)
from gateway.checkpoints import journal
from gateway.checkpoints.checkpointer import DetectorCheckpointer
from gateway.deadletters import dead_letter_row
from gateway.dedup import EVENT_STREAM, TELEMETRY_STREAM, SeqTracker, Verdict
from gateway.metrics import GatewayMetrics
from gateway.registry import DeviceInfo, DeviceRegistry
from gateway.storage import BatchStore, BatchWrite, StorageUnavailable
from gateway.timeseries.recent import RecentSamples

log = logging.getLogger(__name__)

__all__ = [
    "BatchResult",
    "DeviceInfo",
    "NullSink",
    "Pipeline",
    "RawMessage",
    "SignalSink",
    "StorageUnavailable",
]


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One message as the broker delivered it; ``arrived_wall`` is epoch seconds (wall clock)."""

    topic: str
    payload: bytes
    arrived_wall: float = field(default_factory=time.time)


class SignalSink(Protocol):
    """Receives every accepted telemetry/event message's outcome, in order, after it is stored.

    ``ts`` is the message's device time (follow it for grace periods and fix
    verification); ``signals`` is usually empty. Called from the pipeline's
    thread; an exception is logged and counted, never stops ingest.
    """

    def handle(self, device: DeviceInfo, ts: datetime, signals: Sequence[Signal]) -> None: ...


class NullSink:
    """Discards signals: the default until the work-order service is plugged in."""

    def handle(self, device: DeviceInfo, ts: datetime, signals: Sequence[Signal]) -> None:
        return None


@dataclass(slots=True)
class BatchResult:
    """What one :meth:`Pipeline.process` call did."""

    batch_id: int
    received: int = 0
    telemetry: int = 0
    events: int = 0
    births: int = 0
    statuses: int = 0
    duplicates: int = 0
    stale: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    signals: list[Signal] = field(default_factory=list)
    #: (device_id, stream "t"/"e", seq) of every stored telemetry/event message, in order.
    stored: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.telemetry + self.events


@dataclass(slots=True)
class _Accepted:
    device: DeviceInfo
    message: Telemetry | EventBase
    signals: Sequence[Signal]


class Pipeline:
    """Parse, de-duplicate, register, detect, store, signal: one batch at a time."""

    def __init__(
        self,
        storage: BatchStore,
        *,
        detector: FleetDetector | None = None,
        sink: SignalSink | None = None,
        metrics: GatewayMetrics | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        recent: RecentSamples | None = None,
        dedup_window: int = 4096,
        checkpointer: DetectorCheckpointer | None = None,
    ) -> None:
        self.storage = storage
        self.detector: FleetDetector = detector or NullDetector()
        self.sink: SignalSink = sink or NullSink()
        self.metrics = metrics or GatewayMetrics()
        self.max_payload_bytes = max_payload_bytes
        self.recent = recent if recent is not None else RecentSamples()
        self.registry = DeviceRegistry()
        self.tracker = SeqTracker(dedup_window)
        #: Journals what the detectors are fed and checkpoints their state (None: not kept).
        self.checkpointer = checkpointer
        #: The batch's messages fed to the detectors, in order, for the journal.
        self._fed: list[journal.Entry] = []
        self._fed_devices: set[str] = set()
        self._stopping = threading.Event()
        #: One batch or outcome at a time. Re-entrant: a sink may resolve an order (and so
        #: teach the detectors an outcome) from inside the batch that raised it.
        self._lock = threading.RLock()
        self._opened = False
        #: Called with each committed batch's result (benchmarks, tests); must be quick.
        self.observers: list[Callable[[BatchResult], None]] = []

    # -- lifecycle ---------------------------------------------------------------------

    def open(self) -> None:
        """Create tables, recover the spool, load registry and de-duplication marks."""
        self.storage.recover()
        self.registry.load(self.storage.device_rows())
        self.tracker.load(self.storage.mark_rows())
        if self.checkpointer is not None:
            log.info("%s", self.checkpointer.restore().line())
        for device_id in self.registry:
            info = self.registry.info(device_id)
            if info is not None and info.kind and info.model and info.birth_at:
                self._replay_birth(info)
        self.metrics.watch(self.metrics.devices, lambda: float(len(self.registry)))
        self._opened = True

    def _replay_birth(self, info: DeviceInfo) -> None:
        """Tell the detectors about devices known before a restart (their births were stored)."""
        try:
            birth = Birth.model_validate(
                {
                    "schema": "housecall.birth/1",
                    "device_id": info.device_id,
                    "kind": info.kind,
                    "brand": info.brand or "",
                    "model": info.model or "",
                    "ts": info.birth_at,
                    "installed_on": info.installed_on,
                    "warranty_until": info.warranty_until,
                    "region": info.region,
                },
                strict=False,
            )
            self.detector.on_birth(birth)
        except Exception:
            log.exception("could not replay birth of %s to the detectors", info.device_id)

    def stop(self) -> None:
        """Stop retrying: a :meth:`process` call waiting for storage raises instead."""
        self._stopping.set()

    def close(self) -> None:
        """After the last batch: write the final detector checkpoint."""
        if self.checkpointer is not None and self._opened:
            with self._lock:
                self.checkpointer.close()

    def learn_from_outcome(self, outcome: Outcome) -> None:
        """A technician's root cause, journaled and learned between two batches.

        Taking the pipeline's lock puts it in one order with the batches, in the journal
        and in the detectors (whose diagnosis is not shared across threads otherwise).
        """
        with self._lock:
            if self.checkpointer is not None:
                self.checkpointer.record_outcome(outcome)
            self.detector.learn_from_outcome(outcome)

    # -- the journey -------------------------------------------------------------------

    def process(self, batch: Sequence[RawMessage]) -> BatchResult:
        """Take a batch through every step; on return it is stored and may be acknowledged.

        Raises :class:`StorageUnavailable` only after :meth:`stop` while the store is
        down; then nothing of the batch was kept and it must not be acknowledged.
        """
        if not self._opened:
            self.open()
        with self._lock:
            return self._process(batch)

    def _process(self, batch: Sequence[RawMessage]) -> BatchResult:
        result = BatchResult(batch_id=self.storage.next_batch_id(), received=len(batch))
        write = BatchWrite(batch_id=result.batch_id)
        accepted: list[_Accepted] = []
        self._fed, self._fed_devices = [], set()
        journal_row: dict[str, Any] | None = None
        self.registry.begin()
        self.tracker.begin()
        try:
            for raw in batch:
                self._one(raw, result, write, accepted)
            write.marks = self.tracker.dirty_rows()
            write.devices = self.registry.dirty_rows()
            journal_row = (
                self.checkpointer.journal_row(self._fed) if self.checkpointer is not None else None
            )
            if journal_row is not None:
                write.journal = [journal_row]
        except BaseException:
            # A bug must not leave marks for messages that were never stored: they
            # would be taken for duplicates when the broker sends them again.
            self.registry.rollback()
            self.tracker.rollback()
            raise
        self._commit(write)
        if self.checkpointer is not None:
            self.checkpointer.committed(journal_row, self._fed_devices)
        committed_wall = time.time()
        self._after_commit(batch, result, accepted, committed_wall)
        return result

    def _one(
        self, raw: RawMessage, result: BatchResult, write: BatchWrite, accepted: list[_Accepted]
    ) -> None:
        try:
            inbound = parse_message(raw.topic, raw.payload, max_bytes=self.max_payload_bytes)
        except ContractViolation as err:
            reason = err.reason.value
            write.dead_letters.append(
                dead_letter_row(raw.topic, raw.payload, reason, err.detail, raw.arrived_wall)
            )
            result.dead_letters[reason] = result.dead_letters.get(reason, 0) + 1
            return
        payload = inbound.payload
        if inbound.channel is Channel.STATUS:
            assert isinstance(payload, Status)
            self.registry.observe_status(inbound.device_id, payload)
            result.statuses += 1
            return
        if isinstance(payload, Birth):
            self.registry.observe_birth(payload)
            self.tracker.allow_reset(payload.device_id)
            self._feed(journal.BIRTH, raw, payload.device_id)
            self._guard(lambda: self.detector.on_birth(payload))
            result.births += 1
            return
        assert isinstance(payload, Telemetry | EventBase)
        is_telemetry = isinstance(payload, Telemetry)
        stream = TELEMETRY_STREAM if is_telemetry else EVENT_STREAM
        check = self.tracker.check(payload.device_id, stream, payload.seq)
        if check.verdict is Verdict.DUPLICATE:
            self.registry.observe_duplicate(payload.device_id)
            result.duplicates += 1
            return
        if check.verdict is Verdict.STALE:
            result.stale += 1
            log.warning(
                "stale seq %d from %s (older than the de-duplication window): not stored",
                payload.seq,
                payload.device_id,
            )
            return
        if check.gaps > 0:
            self.metrics.seq_gaps.inc(check.gaps)
        elif check.gaps < 0:
            self.metrics.late_fills.inc(-check.gaps)
        if check.reset:
            self.metrics.seq_resets.inc()
        kind = payload.readings.kind.value if isinstance(payload, Telemetry) else None
        device = self.registry.observe_message(
            payload.device_id,
            payload.ts,
            telemetry=is_telemetry,
            kind=kind,
            gaps=check.gaps,
            via=payload.via,
        )
        if isinstance(payload, Telemetry):
            self._feed(journal.TELEMETRY, raw, payload.device_id)
            signals = self._guard(lambda: self.detector.on_telemetry(payload))
            result.telemetry += 1
        else:
            self._feed(journal.EVENT, raw, payload.device_id)
            signals = self._guard(lambda: self.detector.on_event(payload))
            result.events += 1
        signals = tuple(signals or ())
        accepted.append(_Accepted(device, payload, signals))
        result.stored.append((payload.device_id, stream, payload.seq))
        self.storage.stage(write, device, payload)

    def _feed(self, op: str, raw: RawMessage, device_id: str) -> None:
        """Note a message about to be fed to the detectors, for the batch's journal row."""
        if self.checkpointer is not None:
            self._fed.append((op, raw.topic, raw.payload))
            self._fed_devices.add(device_id)

    def _commit(self, write: BatchWrite) -> None:
        """The durable step, retried with jittered backoff until it works or we stop."""
        delay = 0.05
        while True:
            try:
                self.storage.commit(write)
            except StorageUnavailable as err:
                self.metrics.storage_retries.inc()
                if self._stopping.is_set():
                    self.registry.rollback()
                    self.tracker.rollback()
                    raise
                log.warning("batch %d not stored yet (%s); retrying", write.batch_id, err)
                self._stopping.wait(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 2.0)
            else:
                return

    def _after_commit(
        self,
        batch: Sequence[RawMessage],
        result: BatchResult,
        accepted: list[_Accepted],
        committed_wall: float,
    ) -> None:
        m = self.metrics
        m.batches.inc()
        m.received.inc(result.received)
        m.batch_size.observe(result.received)
        if result.telemetry:
            m.telemetry.inc(result.telemetry)
        if result.events:
            m.events.inc(result.events)
        if result.births:
            m.births.inc(result.births)
        if result.statuses:
            m.statuses.inc(result.statuses)
        if result.duplicates:
            m.duplicates.inc(result.duplicates)
        if result.stale:
            m.stale.inc(result.stale)
        for reason, count in result.dead_letters.items():
            m.dead_letters.labels(reason=reason).inc(count)
        for raw in batch:
            m.processing_latency.observe(max(0.0, committed_wall - raw.arrived_wall))
        keep_recent = not self.storage.keeps_samples
        for item in accepted:
            message = item.message
            if keep_recent and isinstance(message, Telemetry):
                self.recent.add(message)
            for signal in item.signals:
                result.signals.append(signal)
                m.signals.labels(type=type(signal).__name__.lower()).inc()
            try:
                self.sink.handle(item.device, message.ts, item.signals)
            except Exception:
                m.sink_errors.inc()
                log.exception("signal sink failed on %s seq %d", message.device_id, message.seq)
        for observer in self.observers:
            try:
                observer(result)
            except Exception:
                log.exception("batch observer failed")

    def _guard(self, call: Callable[[], Any]) -> Any:
        """Run a detector call; an exception is counted and logged, never stops ingest."""
        try:
            return call()
        except Exception:
            self.metrics.detector_errors.inc()
            log.exception("detector raised")
            return ()
