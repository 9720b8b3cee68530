"""The embedded time-series store: telemetry rows in the SQL store when no server is configured.

So the API and UI can chart a device's history with nothing installed. Rows
are written in the batch's own SQL transaction, next to the de-duplication
marks, which makes them exactly-once by construction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Connection, DateTime, Index, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base


class StoredSample(Base):
    """One accepted telemetry or event message (``stream``: ``telemetry`` or ``event``)."""

    __tablename__ = "telemetry_samples"
    __table_args__ = (Index("ix_telemetry_samples_device_ts", "device_id", "ts"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str | None] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str | None] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(128))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)


def recent_samples(
    connection: Connection, device_id: str, *, limit: int = 100, stream: str = "telemetry"
) -> list[dict[str, Any]]:
    """A device's newest samples (device time), newest first."""
    rows = connection.execute(
        select(StoredSample.__table__)
        .where(StoredSample.device_id == device_id, StoredSample.stream == stream)
        .order_by(StoredSample.ts.desc(), StoredSample.seq.desc())
        .limit(limit)
    ).mappings()
    return [
        {
            "seq": row["seq"],
            "ts": _aware(row["ts"]),
            "event_type": row["event_type"],
            "values": row["values"],
        }
        for row in rows
    ]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
