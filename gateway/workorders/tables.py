"""SQL tables of the service loop: work orders and their audit trail, dispatch, keys, webhooks.

All declared on :data:`gateway.db.Base`, so ``create_schema`` builds them with the rest.
Clocks are named on purpose: ``*_at`` columns that come from telemetry (``opened_at``,
``last_seen_at``, ``verify_since``...) hold DEVICE time; ``*_wall_at`` columns hold the
wall clock (what people and networks do: audit entries, SLA deadlines, webhook retries).

The one rule the database itself enforces: at most one ACTIVE order per
``(device_id, fault)`` -- a partial unique index over the non-terminal statuses, which
SQLite and PostgreSQL both support. Two gateway workers racing to open the same order
therefore cannot both succeed; the loser updates the winner's row (see ``opening``).
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
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base

#: Statuses in which an order is still "the" order for its (device_id, fault).
#: ``resolved`` counts: the fault returning during verification reopens it.
ACTIVE_STATUSES: tuple[str, ...] = (
    "open",
    "assigned",
    "accepted",
    "scheduled",
    "on_site",
    "resolved",
)
_ACTIVE_SQL = text("status IN ({})".format(", ".join(f"'{s}'" for s in ACTIVE_STATUSES)))

Json = dict[str, Any]


class WorkOrderRow(Base):
    __tablename__ = "work_orders"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    fault: Mapped[str] = mapped_column(String(64), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    #: Device time of the telemetry that opened (or last reopened) the order.
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Device time of the first finding (before a self-fix grace period, if any).
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Device time of the latest finding that updated the order.
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    predicted_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    evidence: Mapped[list[Json]] = mapped_column(JSON, default=list)
    alternatives: Mapped[list[Json]] = mapped_column(JSON, default=list)
    recommended_parts: Mapped[list[str]] = mapped_column(JSON, default=list)
    warranty: Mapped[str] = mapped_column(String(16), default="unknown")
    brand: Mapped[str | None] = mapped_column(String(128), index=True)
    model: Mapped[str | None] = mapped_column(String(128))
    region: Mapped[str | None] = mapped_column(String(16))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    technician_id: Mapped[str | None] = mapped_column(String(40), index=True)
    provider_id: Mapped[str | None] = mapped_column(String(40))
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    root_cause: Mapped[str | None] = mapped_column(String(64))
    parts_used: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    #: Device time from which normal behaviour counts towards verification (after resolved).
    verify_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verify_cycles: Mapped[int] = mapped_column(Integer, default=0)
    #: Device time since which the detectors call the fault's evidence normal (a Recovery).
    evidence_normal_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notice_id: Mapped[int | None] = mapped_column(Integer)
    created_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: SLA deadline (wall clock, from creation and severity).
    due_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sla_breached_wall_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "uq_work_orders_one_active",
            "device_id",
            "fault",
            unique=True,
            sqlite_where=_ACTIVE_SQL,
            postgresql_where=_ACTIVE_SQL,
        ),
    )


class AuditRow(Base):
    """One transition (or detector update) of an order: who, when (wall clock), why."""

    __tablename__ = "work_order_audit"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("work_orders.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    device_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    detail: Mapped[Json] = mapped_column(JSON, default=dict)


class SelfFixNoticeRow(Base):
    """A customer self-fix notice and its grace period (device time)."""

    __tablename__ = "self_fix_notices"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    fault: Mapped[str] = mapped_column(String(64))
    #: pending -> recovered (telemetry back to normal) | escalated (order opened)
    status: Mapped[str] = mapped_column(String(16))
    notice_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    grace_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(64))
    finding: Mapped[Json] = mapped_column(JSON)
    order_id: Mapped[str | None] = mapped_column(String(40))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: When the broker took the notice (None: not yet; the service loop retries it).
    published_wall_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "uq_self_fix_notices_one_pending",
            "device_id",
            "fault",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )


class ProviderRow(Base):
    """A service company: the regions it covers and the kinds it repairs."""

    __tablename__ = "service_providers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    rating: Mapped[float] = mapped_column(Float, default=4.0)
    created_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TechnicianRow(Base):
    """A technician: skills (ac, washer), regions, daily capacity, rating."""

    __tablename__ = "technicians"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    provider_id: Mapped[str | None] = mapped_column(ForeignKey("service_providers.id"))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Empty: the provider's regions.
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    daily_capacity: Mapped[int] = mapped_column(Integer, default=6)
    rating: Mapped[float] = mapped_column(Float, default=4.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKeyRow(Base):
    """An API key; only the SHA-256 of its secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))  # brand | technician | admin
    brand: Mapped[str | None] = mapped_column(String(128))
    technician_id: Mapped[str | None] = mapped_column(String(40))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_wall_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookSubscriptionRow(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: The brand whose orders are sent; None (admin-created only): every brand.
    brand: Mapped[str | None] = mapped_column(String(128), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    #: Event types to send; empty: all.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookOutboxRow(Base):
    """One event to deliver to one subscription; written in the same transaction as the change."""

    __tablename__ = "webhook_outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending|delivered|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    claimed_until_wall_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_wall_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttemptRow(Base):
    """The delivery log: every attempt, successful or not."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("webhook_outbox.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
