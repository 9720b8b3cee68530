"""Side tables of the service-quality package, keyed by order or device id.

The work-order tables stay as they are; what quality adds lives here: the per-device
hash chain (records + one head row per device, the head row is the lock that keeps two
workers from forking a chain), quotes and warranty decisions stored with each order,
bills and their check, customer ratings, technicians' ID badges, and the outbox of
customer progress notices (written in the change's transaction, published after).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base

Json = dict[str, Any]
_BIGID = BigInteger().with_variant(Integer, "sqlite")


class HistoryRecordRow(Base):
    """One link of a device's service history: its content hash covers the previous hash."""

    __tablename__ = "service_history"

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    #: 0, 1, 2... per device; (device_id, position) is unique, so a chain cannot fork.
    position: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[str | None] = mapped_column(String(40), index=True)
    event: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    recorded_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Device time of the event (the telemetry's, or the device's latest message).
    device_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payload: Mapped[Json] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("device_id", "position", name="uq_service_history_link"),)


class HistoryHeadRow(Base):
    """The newest link of each device's chain; updating it is the per-device append lock."""

    __tablename__ = "service_history_heads"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Position of the newest record (-1: none yet).
    position: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class OrderQuoteRow(Base):
    """What the order is expected to cost, and who pays (warranty decision), fixed at opening."""

    __tablename__ = "order_quality"

    order_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    brand: Mapped[str | None] = mapped_column(String(128), index=True)
    currency: Mapped[str | None] = mapped_column(String(8))
    expected_low: Mapped[float | None] = mapped_column(Float)
    expected_high: Mapped[float | None] = mapped_column(Float)
    quote: Mapped[Json] = mapped_column(JSON, default=dict)
    warranty: Mapped[Json] = mapped_column(JSON, default=dict)
    created_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BillRow(Base):
    """A technician's final bill and the verdict of the check against the price list."""

    __tablename__ = "order_bills"

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    brand: Mapped[str | None] = mapped_column(String(128), index=True)
    technician_id: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(8))
    total: Mapped[float] = mapped_column(Float)
    customer_pays: Mapped[float] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean, index=True)
    check: Mapped[Json] = mapped_column(JSON)
    created_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RatingRow(Base):
    __tablename__ = "order_ratings"

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    technician_id: Mapped[str | None] = mapped_column(String(40), index=True)
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BadgeRow(Base):
    """A technician's ID badge number, shown to the customer before the visit."""

    __tablename__ = "technician_badges"

    technician_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    badge: Mapped[str] = mapped_column(String(64), unique=True)


class NoticeOutboxRow(Base):
    """A customer progress notice, queued with the change and published after the commit."""

    __tablename__ = "progress_notice_outbox"

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(40))
    body: Mapped[Json] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_wall_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_progress_notice_outbox_pending", "status", "id"),)
