"""The durable step of a batch: one SQL transaction, plus the time-series spool when configured.

What one batch writes, atomically from the gateway's point of view:

* dead letters, device registry rows, de-duplication marks and the batch's id
  (``ingest_checkpoints``) in ONE SQL transaction;
* with a time-series server: the batch's line protocol appended to the disk
  spool *before* that transaction; a restart discards spool entries whose
  transaction never committed (their MQTT messages were not acknowledged and
  come again), and the delivery worker only sends committed entries;
* without one: the samples as rows of the embedded store, inside the same
  transaction;
* the detector journal's row for the batch (what it fed to the detectors), inside
  the same transaction (see :mod:`gateway.checkpoints.checkpointer`).

So a message is either stored once with its de-duplication mark, or not at all
and still unacknowledged at the broker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import BigInteger, Connection, DateTime, Engine, String, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from edge.contract import EventBase, Telemetry
from gateway.checkpoints.tables import DetectorJournal
from gateway.db import Base, create_schema, upsert
from gateway.deadletters import DeadLetter
from gateway.dedup import DedupMark
from gateway.device_table import Device
from gateway.timeseries.delivery import SpoolDelivery
from gateway.timeseries.embedded import StoredSample
from gateway.timeseries.lineproto import event_line, event_numeric, reading_values, telemetry_line


class IngestCheckpoint(Base):
    """The last batch this gateway committed: the spool's entries above it never happened."""

    __tablename__ = "ingest_checkpoints"

    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_batch: Mapped[int] = mapped_column(BigInteger)
    updated_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


if TYPE_CHECKING:
    from gateway.registry import DeviceInfo


class StorageUnavailable(RuntimeError):
    """The batch could not be made durable (SQL store down, spool full); nothing was kept."""


@dataclass(slots=True)
class BatchWrite:
    """Everything one batch stores."""

    batch_id: int
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    marks: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    #: The detector journal's row for this batch (:mod:`gateway.checkpoints`), if any.
    journal: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.dead_letters or self.marks or self.devices or self.samples or self.lines)


class BatchStore(Protocol):
    """The pipeline's one storage seam: what it remembers, and one durable step per batch.

    :class:`BatchStorage` is the real one (SQL, spool or embedded telemetry); tests of
    the pipeline use an in-memory fake, and one contract test holds both to the same
    behaviour. ``stage`` turns an accepted message into what this store writes (rows of
    the embedded store, or line protocol for the time-series server), so the pipeline
    never asks which kind of store it has.
    """

    @property
    def keeps_samples(self) -> bool:
        """Recent telemetry can be read back from this store (else the pipeline keeps it)."""

    def recover(self) -> int:
        """Get ready after a (re)start; returns the last committed batch id."""

    def next_batch_id(self) -> int: ...

    def device_rows(self) -> Iterable[Mapping[str, Any]]:
        """The device registry's rows as last committed."""

    def mark_rows(self) -> Iterable[Mapping[str, Any]]:
        """The de-duplication marks as last committed."""

    def stage(self, write: BatchWrite, device: DeviceInfo, message: Telemetry | EventBase) -> None:
        """Add an accepted message's sample to ``write``."""

    def commit(self, write: BatchWrite) -> None:
        """Make ``write`` durable whole, or raise :class:`StorageUnavailable` keeping nothing."""


class BatchStorage:
    """The real :class:`BatchStore`: the SQL store and the optional time-series spool."""

    def __init__(
        self, engine: Engine, *, gateway_id: str, delivery: SpoolDelivery | None = None
    ) -> None:
        self.engine = engine
        self.gateway_id = gateway_id
        self.delivery = delivery
        self.last_batch = 0

    @property
    def embedded(self) -> bool:
        """Telemetry kept in the SQL store (no time-series server configured)."""
        return self.delivery is None

    @property
    def keeps_samples(self) -> bool:
        return self.embedded

    def device_rows(self) -> list[Mapping[str, Any]]:
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(select(Device.__table__)).mappings()]

    def mark_rows(self) -> list[Mapping[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(DedupMark.__table__)).mappings()
            return [dict(row) for row in rows]

    def stage(self, write: BatchWrite, device: DeviceInfo, message: Telemetry | EventBase) -> None:
        """Embedded: a row in the batch's transaction; else a line for the spool."""
        if isinstance(message, Telemetry):
            if self.embedded:
                write.samples.append(
                    {
                        "device_id": message.device_id,
                        "stream": "telemetry",
                        "event_type": None,
                        "seq": message.seq,
                        "ts": message.ts,
                        "kind": device.kind,
                        "model": device.model,
                        "values": message.readings.model_dump(mode="json", exclude_none=True),
                    }
                )
            else:
                write.lines.append(
                    telemetry_line(
                        message.device_id,
                        message.seq,
                        message.ts,
                        reading_values(message.readings),
                        kind=device.kind,
                        model=device.model,
                    )
                )
            return
        event_type = str(getattr(message, "type", "event"))
        if self.embedded:
            write.samples.append(
                {
                    "device_id": message.device_id,
                    "stream": "event",
                    "event_type": event_type,
                    "seq": message.seq,
                    "ts": message.ts,
                    "kind": device.kind,
                    "model": device.model,
                    "values": message.model_dump(mode="json", exclude_none=True).get("data", {}),
                }
            )
        else:
            write.lines.append(
                event_line(
                    message.device_id,
                    message.seq,
                    message.ts,
                    event_numeric(message),
                    kind=device.kind,
                    model=device.model,
                    event_type=event_type,
                )
            )

    def recover(self) -> int:
        """Create tables, read the last committed batch, drop spool entries above it."""
        create_schema(self.engine)
        with self.engine.connect() as connection:
            last = connection.execute(
                select(IngestCheckpoint.last_batch).where(
                    IngestCheckpoint.gateway_id == self.gateway_id
                )
            ).scalar()
        self.last_batch = int(last or 0)
        if self.delivery is not None:
            self.delivery.spool.discard_after(self.last_batch)
            self.delivery.committed(self.last_batch)
        return self.last_batch

    def next_batch_id(self) -> int:
        return self.last_batch + 1

    def commit(self, write: BatchWrite) -> None:
        """Make the batch durable or raise :class:`StorageUnavailable` having kept nothing."""
        if write.batch_id != self.last_batch + 1:
            raise ValueError(f"batch {write.batch_id} out of order (last {self.last_batch})")
        spool = self.delivery.spool if self.delivery is not None else None
        if spool is not None and write.lines:
            body = "\n".join(write.lines).encode()
            try:
                spool.append(write.batch_id, body, points=len(write.lines))
            except Exception as err:
                raise StorageUnavailable(f"spool: {err}") from err
        try:
            with self.engine.begin() as connection:
                self._write_sql(connection, write)
        except Exception as err:
            if spool is not None and write.lines:
                spool.discard_after(self.last_batch)
            raise StorageUnavailable(f"SQL store: {type(err).__name__}: {err}") from err
        self.last_batch = write.batch_id
        if self.delivery is not None:
            self.delivery.committed(write.batch_id)

    def _write_sql(self, connection: Connection, write: BatchWrite) -> None:
        if write.dead_letters:
            connection.execute(insert(DeadLetter), write.dead_letters)
        if write.samples:
            connection.execute(insert(StoredSample), write.samples)
        if write.journal:
            connection.execute(insert(DetectorJournal), write.journal)
        upsert(connection, DedupMark.__table__, ("device_id", "stream"), write.marks)
        upsert(connection, Device.__table__, ("device_id",), write.devices)
        upsert(
            connection,
            IngestCheckpoint.__table__,
            ("gateway_id",),
            [
                {
                    "gateway_id": self.gateway_id,
                    "last_batch": write.batch_id,
                    "updated_wall_at": datetime.now(UTC),
                }
            ],
        )
