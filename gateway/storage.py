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

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, DateTime, Engine, String, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from gateway.checkpoints.tables import DetectorJournal
from gateway.db import Base, create_schema, upsert
from gateway.deadletters import DeadLetter
from gateway.dedup import DedupMark
from gateway.device_table import Device
from gateway.timeseries.delivery import SpoolDelivery
from gateway.timeseries.embedded import StoredSample


class IngestCheckpoint(Base):
    """The last batch this gateway committed: the spool's entries above it never happened."""

    __tablename__ = "ingest_checkpoints"

    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_batch: Mapped[int] = mapped_column(BigInteger)
    updated_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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


class BatchStorage:
    """Commits :class:`BatchWrite` objects; knows the SQL store and the optional spool."""

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
