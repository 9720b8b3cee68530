"""Detector state that survives a crash: checkpoint plus journal, replayed on start.

The consistency design, in one paragraph: every batch the pipeline commits also writes,
in the SAME SQL transaction as its de-duplication marks, one journal row holding the
messages it fed to the detectors, in the order it fed them (:mod:`.journal`). Every
``interval_s`` (or once the journal holds ``max_journal_messages``), between two batches,
the checkpointer copies the state of every device touched since the last checkpoint and
the fleet-level models (cohorts, diagnosis), all as of the last journaled batch
``through_seq``; a background thread writes them and deletes the journal up to
``through_seq`` in one transaction. On start, :meth:`DetectorCheckpointer.restore` loads
the checkpoint and feeds the journal rows after ``through_seq`` to the detectors again,
in order. So:

* a message acknowledged to the broker was committed with its journal row: it is in the
  checkpoint or in the journal, never lost to the models;
* a message whose batch did not commit left no journal row and no de-duplication mark:
  the broker redelivers it and it is fed once, then;
* a device's row is rewritten at every checkpoint after it changed, and nothing but its
  own messages changes it, so rows written at different checkpoints are all its state as
  of the latest one; the restored state plus the replayed journal is exactly the state an
  uninterrupted process would have (the detectors are deterministic functions of the
  sequence they are fed), with no message counted twice and none skipped.

Replay does not call the work-order sink again: the signals were handled when the batch
was first processed (a crash between a batch's commit and its sink call loses that
batch's signals; the detectors raise a finding once, so that order would open at the
fault's next finding). A technician's outcome is journaled too (:meth:`record_outcome`),
under the pipeline's lock, so it takes its place in the same order.

Every stored piece of state carries :func:`detectors.checkpoint.detector_version`; a
checkpoint of another version is refused with one log line and its devices re-learn
(the journal, which holds raw messages, is still replayed). A row that cannot be loaded
is logged, counted (``housecall_detector_checkpoint_rows_refused_total{reason="corrupt"}``)
and its device re-learns.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import Engine, delete, func, insert, select

from detectors.api import FleetDetector, Outcome, feed
from detectors.checkpoint import detector_version
from edge.contract import ContractViolation, parse_message
from gateway.checkpoints import journal
from gateway.checkpoints.tables import DetectorJournal, DetectorShared, DetectorStateRow
from gateway.db import upsert

log = logging.getLogger(__name__)

#: Device rows per INSERT statement when a checkpoint is written.
WRITE_CHUNK = 1000


@runtime_checkable
class SharedStateDetector(Protocol):
    """A detector with fleet-level learned state (cohorts, diagnosis) besides its devices'."""

    def snapshot_shared(self) -> bytes: ...

    def restore_shared(self, data: bytes) -> None: ...


class CheckpointMetrics:
    """What checkpointing costs and what it refused, on the gateway's registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry(auto_describe=True)
        self.checkpoints = Counter(
            "housecall_detector_checkpoints", "Detector checkpoints written", registry=r
        )
        self.failures = Counter(
            "housecall_detector_checkpoint_failures",
            "Detector checkpoints that could not be written (retried at the next one)",
            registry=r,
        )
        self.bytes_written = Counter(
            "housecall_detector_checkpoint_bytes",
            "Bytes of detector state written by checkpoints",
            registry=r,
        )
        self.journal_bytes = Counter(
            "housecall_detector_journal_bytes",
            "Bytes of detector journal written with the batches",
            registry=r,
        )
        self.write_seconds = Histogram(
            "housecall_detector_checkpoint_seconds",
            "Wall time to write one checkpoint (background thread)",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=r,
        )
        self.snapshot_seconds = Histogram(
            "housecall_detector_snapshot_seconds",
            "Wall time the pipeline spends copying state for one checkpoint",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=r,
        )
        self.cpu_seconds = Counter(
            "housecall_detector_checkpoint_cpu_seconds",
            "CPU time spent journaling, copying and writing detector state (all threads)",
            registry=r,
        )
        self.refused = Counter(
            "housecall_detector_checkpoint_rows_refused",
            "Checkpoint rows not restored (their devices re-learn)",
            ["reason"],
            registry=r,
        )
        self.replayed = Counter(
            "housecall_detector_journal_replayed_messages",
            "Journaled messages fed to the detectors again on start",
            registry=r,
        )
        self.pending = Gauge(
            "housecall_detector_journal_pending_messages",
            "Messages journaled since the last checkpoint (replayed after a crash)",
            registry=r,
        )


@dataclass(slots=True)
class RestoreReport:
    """What :meth:`DetectorCheckpointer.restore` found."""

    shared: str = "none"  # none | restored | refused | corrupt
    devices: int = 0
    refused: int = 0
    corrupt: int = 0
    replayed_rows: int = 0
    replayed_messages: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"detector state: shared {self.shared}, {self.devices} devices restored "
            f"({self.refused} refused, {self.corrupt} corrupt), {self.replayed_messages} "
            f"journaled messages replayed in {self.seconds:.2f} s"
        )


@dataclass(slots=True)
class _Snapshot:
    through_seq: int
    devices: list[tuple[str, bytes]]
    shared: bytes | None
    journal_messages: int
    done: threading.Event = field(default_factory=threading.Event)


class DetectorCheckpointer:
    """Journals what the detectors are fed, checkpoints their state, restores it on start.

    The pipeline calls :meth:`journal_row` and :meth:`committed` for every batch, and
    :meth:`record_outcome`, all under its own lock (one batch or outcome at a time).
    """

    def __init__(
        self,
        engine: Engine,
        detector: FleetDetector,
        *,
        scope: str,
        metrics: CheckpointMetrics | None = None,
        interval_s: float = 300.0,
        max_journal_messages: int = 500_000,
        version: str | None = None,
    ) -> None:
        self.engine = engine
        self.detector = detector
        self.scope = scope
        self.metrics = metrics or CheckpointMetrics()
        self.interval_s = interval_s
        self.max_journal_messages = max_journal_messages
        self.version = version or state_version(detector)
        self._next_seq = 1
        self._journal_messages = 0
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._last_wall = time.monotonic()
        self._queue: queue.Queue[_Snapshot | None] = queue.Queue(maxsize=1)
        self._writer: threading.Thread | None = None
        self.metrics.pending.set_function(lambda: float(self._journal_messages))

    # -- start ----------------------------------------------------------------------------

    def restore(self) -> RestoreReport:
        """Load this scope's checkpoint, replay its journal; call before the first batch."""
        started = time.monotonic()
        report = RestoreReport()
        with self.engine.connect() as connection:
            shared = connection.execute(
                select(
                    DetectorShared.version, DetectorShared.state, DetectorShared.through_seq
                ).where(DetectorShared.scope == self.scope)
            ).first()
            through = 0
            if shared is not None:
                through = int(shared.through_seq)
                report.shared = self._restore_shared(shared.version, shared.state)
            refused_versions: set[str] = set()
            for device_id, version, state in connection.execute(
                select(
                    DetectorStateRow.device_id, DetectorStateRow.version, DetectorStateRow.state
                ).where(DetectorStateRow.scope == self.scope)
            ):
                if version != self.version:
                    report.refused += 1
                    refused_versions.add(version)
                    continue
                try:
                    self.detector.restore(device_id, state)
                    report.devices += 1
                except Exception as err:
                    report.corrupt += 1
                    log.warning(
                        "detector checkpoint of %s unreadable (%s): it re-learns", device_id, err
                    )
            if report.refused:
                self.metrics.refused.labels(reason="version").inc(report.refused)
                log.warning(
                    "refused %d device checkpoints of detector version %s (this detector is %s):"
                    " those devices re-learn",
                    report.refused,
                    ", ".join(sorted(refused_versions)),
                    self.version,
                )
            if report.corrupt:
                self.metrics.refused.labels(reason="corrupt").inc(report.corrupt)
            rows = connection.execute(
                select(DetectorJournal.seq, DetectorJournal.entries)
                .where(DetectorJournal.scope == self.scope, DetectorJournal.seq > through)
                .order_by(DetectorJournal.seq)
            )
            last = through
            for seq, entries in rows:
                last = int(seq)
                report.replayed_rows += 1
                report.replayed_messages += self._replay(int(seq), entries)
        self._next_seq = last + 1
        self._journal_messages = report.replayed_messages
        self._last_wall = time.monotonic()
        self.metrics.replayed.inc(report.replayed_messages)
        report.seconds = time.monotonic() - started
        return report

    def _restore_shared(self, version: str, state: bytes | None) -> str:
        if state is None or not isinstance(self.detector, SharedStateDetector):
            return "none"
        if version != self.version:
            self.metrics.refused.labels(reason="version").inc()
            log.warning(
                "refused the fleet models checkpointed by detector version %s (this detector"
                " is %s): cohorts and diagnosis re-learn",
                version,
                self.version,
            )
            return "refused"
        try:
            self.detector.restore_shared(state)
        except Exception as err:
            self.metrics.refused.labels(reason="corrupt").inc()
            log.warning("fleet models checkpoint unreadable (%s): they re-learn", err)
            return "corrupt"
        return "restored"

    def _replay(self, seq: int, data: bytes) -> int:
        """Feed one journal row to the detectors again; signals are dropped (see module)."""
        try:
            entries = journal.decode(data)
        except journal.JournalCorrupt as err:
            self.metrics.refused.labels(reason="corrupt_journal").inc()
            log.warning("journal row %d of %s unreadable (%s): skipped", seq, self.scope, err)
            return 0
        detector = self.detector
        for op, topic, body in entries:
            try:
                if op == journal.OUTCOME:
                    detector.learn_from_outcome(journal.outcome_from(body))
                    continue
                feed(detector, parse_message(topic, body, max_bytes=len(body) + 1).payload)
            except (ContractViolation, ValueError, KeyError) as err:
                log.warning("journal entry of %s not replayed (%s)", topic or "outcome", err)
            except Exception:  # a detector bug: as in the pipeline, never stops the start
                log.exception("detector raised replaying the journal")
        return len(entries)

    # -- every batch (under the pipeline's lock) -------------------------------------------

    def journal_row(self, entries: Sequence[journal.Entry]) -> dict[str, Any] | None:
        """The journal row to commit with the batch (None when nothing was fed)."""
        if not entries:
            return None
        started = time.thread_time()
        data = journal.encode(entries)
        self.metrics.cpu_seconds.inc(time.thread_time() - started)
        return {
            "scope": self.scope,
            "seq": self._next_seq,
            "messages": len(entries),
            "entries": data,
        }

    def committed(self, row: dict[str, Any] | None, devices: Iterable[str]) -> None:
        """The batch carrying ``row`` is durable; checkpoint if one is due."""
        if row is None:
            return
        self._next_seq += 1
        self._journal_messages += int(row["messages"])
        self.metrics.journal_bytes.inc(len(row["entries"]))
        with self._dirty_lock:
            self._dirty.update(devices)
        if self.due():
            self.checkpoint()

    def record_outcome(self, outcome: Outcome) -> None:
        """Journal a technician's outcome in its own transaction, then let the caller learn it."""
        op, topic, body = journal.outcome_entry(outcome)
        row = self.journal_row([(op, topic, body)])
        assert row is not None
        with self.engine.begin() as connection:
            connection.execute(insert(DetectorJournal), [row])
        self._next_seq += 1
        self._journal_messages += 1

    # -- checkpoints ----------------------------------------------------------------------

    def due(self) -> bool:
        return self._journal_messages >= self.max_journal_messages or (
            self._journal_messages > 0 and time.monotonic() - self._last_wall >= self.interval_s
        )

    def checkpoint(self, *, wait: bool = False) -> bool:
        """Copy the state now (under the caller's lock); write it in the background.

        Returns False when the previous checkpoint is still being written: the devices
        stay dirty and the next batch tries again.
        """
        if self._queue.full():
            return False
        started, cpu_started = time.monotonic(), time.thread_time()
        with self._dirty_lock:
            dirty, self._dirty = self._dirty, set()
        devices = []
        for device_id in sorted(dirty):
            state = self.detector.snapshot(device_id)
            if state is not None:
                devices.append((device_id, state))
        shared = (
            self.detector.snapshot_shared()
            if isinstance(self.detector, SharedStateDetector)
            else None
        )
        snapshot = _Snapshot(self._next_seq - 1, devices, shared, self._journal_messages)
        self.metrics.snapshot_seconds.observe(time.monotonic() - started)
        self.metrics.cpu_seconds.inc(time.thread_time() - cpu_started)
        self._journal_messages = 0
        self._last_wall = time.monotonic()
        self._ensure_writer()
        self._queue.put(snapshot)
        if wait:
            snapshot.done.wait()
        return True

    def close(self, timeout_s: float = 60.0) -> None:
        """Write a final checkpoint (so a clean restart replays nothing); stop the writer."""
        if self._journal_messages or self._dirty:
            while not self.checkpoint(wait=True):
                time.sleep(0.01)
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout_s)
            self._writer = None

    def _ensure_writer(self) -> None:
        if self._writer is None or not self._writer.is_alive():
            self._writer = threading.Thread(
                target=self._write_loop, name="housecall-checkpoint", daemon=True
            )
            self._writer.start()

    def _write_loop(self) -> None:
        while True:
            snapshot = self._queue.get()
            if snapshot is None:
                return
            try:
                self._write(snapshot)
            except Exception as err:
                self.metrics.failures.inc()
                log.warning("detector checkpoint not written (%s); retried at the next", err)
                with self._dirty_lock:
                    self._dirty.update(device_id for device_id, _ in snapshot.devices)
                self._journal_messages += snapshot.journal_messages
            finally:
                snapshot.done.set()
                self._queue.task_done()

    def _write(self, snapshot: _Snapshot) -> None:
        started, cpu_started = time.monotonic(), time.thread_time()
        now = datetime.now(UTC)
        written = 0
        with self.engine.begin() as connection:
            for start in range(0, len(snapshot.devices), WRITE_CHUNK):
                chunk = snapshot.devices[start : start + WRITE_CHUNK]
                rows = [
                    {
                        "scope": self.scope,
                        "device_id": device_id,
                        "version": self.version,
                        "state": state,
                        "updated_wall_at": now,
                    }
                    for device_id, state in chunk
                ]
                written += sum(len(state) for _, state in chunk)
                upsert(connection, DetectorStateRow.__table__, ("scope", "device_id"), rows)
            upsert(
                connection,
                DetectorShared.__table__,
                ("scope",),
                [
                    {
                        "scope": self.scope,
                        "version": self.version,
                        "state": snapshot.shared,
                        "through_seq": snapshot.through_seq,
                        "updated_wall_at": now,
                    }
                ],
            )
            connection.execute(
                delete(DetectorJournal).where(
                    DetectorJournal.scope == self.scope,
                    DetectorJournal.seq <= snapshot.through_seq,
                )
            )
        written += len(snapshot.shared or b"")
        self.metrics.checkpoints.inc()
        self.metrics.bytes_written.inc(written)
        self.metrics.write_seconds.observe(time.monotonic() - started)
        self.metrics.cpu_seconds.inc(time.thread_time() - cpu_started)


def state_version(detector: FleetDetector) -> str:
    """The version stored with a detector's state: its class and its learned-state meaning.

    The class is part of it so that a plug-in detector (``--detector``) never loads state
    another detector learned, even with the same signal lists.
    """
    kind = type(detector)
    described = f"{kind.__module__}.{kind.__qualname__}:{detector_version()}"
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def journal_size(engine: Engine, scope: str) -> int:
    """Journal rows waiting for the next checkpoint (tests, diagnostics)."""
    with engine.connect() as connection:
        count = connection.execute(
            select(func.count()).select_from(DetectorJournal).where(DetectorJournal.scope == scope)
        ).scalar()
    return int(count or 0)
