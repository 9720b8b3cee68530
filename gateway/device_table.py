"""The ``devices`` table: what the registry knows of each appliance.

Filled from ``birth`` and ``status`` messages by the ingest side; read by work
orders (warranty, brand scoping, region for dispatch) and the API. Times named
``*_at`` from telemetry are device time; ``updated_wall_at`` is the wall clock.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base


class Device(Base):
    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str | None] = mapped_column(String(16))
    brand: Mapped[str | None] = mapped_column(String(128), index=True)
    model: Mapped[str | None] = mapped_column(String(128))
    firmware: Mapped[str | None] = mapped_column(String(128))
    serial: Mapped[str | None] = mapped_column(String(128))
    refrigerant: Mapped[str | None] = mapped_column(String(16))
    installed_on: Mapped[date | None] = mapped_column(Date)
    warranty_until: Mapped[date | None] = mapped_column(Date)
    region: Mapped[str | None] = mapped_column(String(16), index=True)
    postcode: Mapped[str | None] = mapped_column(String(128))
    via: Mapped[str | None] = mapped_column(String(64))
    online: Mapped[bool | None] = mapped_column()
    birth_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    telemetry_messages: Mapped[int] = mapped_column(BigInteger, default=0)
    event_messages: Mapped[int] = mapped_column(BigInteger, default=0)
    seq_gaps: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    updated_wall_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
