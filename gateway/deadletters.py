"""The dead-letter store: every message the contract refused, with its reason, kept in SQL.

A refused message is never dropped silently: it is saved (topic, reason, detail,
arrival time and the payload, or its first KiB plus a SHA-256 when it is large),
counted by reason in ``/metrics``, and acknowledged like any stored message so
the stream goes on.

>>> row = dead_letter_row("appliances/ac-1/telemetry", b"x" * 5000, "oversize", "too big", 0.0)
>>> len(row["payload"]), row["payload_size"], row["payload_truncated"]
(1024, 5000, True)
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base

#: Payloads up to this size are kept whole; bigger ones keep this many bytes plus a hash.
KEEP_WHOLE_BYTES = 1024


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(512))
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text)
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_size: Mapped[int] = mapped_column(Integer)
    payload_truncated: Mapped[bool] = mapped_column(Boolean)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    arrived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def dead_letter_row(
    topic: str, payload: bytes, reason: str, detail: str, arrived_wall: float
) -> dict[str, Any]:
    """The row for one refused message (``arrived_wall``: epoch seconds when it arrived)."""
    parts = topic.split("/")
    device_id = parts[1][:64] if len(parts) == 3 and parts[1] else None
    truncated = len(payload) > KEEP_WHOLE_BYTES
    return {
        "topic": topic[:512],
        "reason": reason,
        "detail": detail[:2000],
        "device_id": device_id,
        "payload": payload[:KEEP_WHOLE_BYTES],
        "payload_size": len(payload),
        "payload_truncated": truncated,
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "arrived_at": datetime.fromtimestamp(arrived_wall, UTC),
    }


def recent_dead_letters(
    connection: Connection,
    *,
    limit: int = 100,
    reason: str | None = None,
    device_id: str | None = None,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first; ``before_id`` pages back."""
    query = select(DeadLetter.__table__).order_by(DeadLetter.id.desc()).limit(limit)
    if reason:
        query = query.where(DeadLetter.reason == reason)
    if device_id:
        query = query.where(DeadLetter.device_id == device_id)
    if before_id is not None:
        query = query.where(DeadLetter.id < before_id)
    return [dict(row) for row in connection.execute(query).mappings()]


def count_by_reason(connection: Connection) -> dict[str, int]:
    rows = connection.execute(
        select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)
    ).all()
    return {reason: int(count) for reason, count in rows}
