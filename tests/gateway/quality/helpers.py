"""A work-order service with the quality layer attached, on a real database, and a clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, update
from sqlalchemy.orm import sessionmaker

from detectors.api import Finding, Recovery
from edge.contract import Evidence, Fault, Kind, Notice, Severity
from gateway.device_table import Device
from gateway.quality import tables as _quality_tables  # noqa: F401 - registers the tables
from gateway.quality.service import QualityService
from gateway.workorders import tables as _workorder_tables  # noqa: F401
from gateway.workorders.service import ServiceConfig, WorkOrderService
from gateway.workorders.tables import ProviderRow, TechnicianRow

T0 = datetime(2026, 7, 14, 13, 5, tzinfo=UTC)
WALL0 = datetime(2026, 7, 14, 8, 0, tzinfo=UTC)


class Clock:
    """The wall clock, moved by the test (SLA clocks, audit times)."""

    def __init__(self, now: datetime = WALL0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Rig:
    engine: Engine
    service: WorkOrderService
    quality: QualityService
    clock: Clock
    notices: list[Notice] = field(default_factory=list)


def make_rig(engine: Engine, *, auto_assign: bool = False, **config: object) -> Rig:
    clock = Clock()
    notices: list[Notice] = []
    service = WorkOrderService(
        sessionmaker(engine, expire_on_commit=False),
        publish_notice=notices.append,
        config=ServiceConfig(auto_assign=auto_assign, verify_days=1.0, **config),  # type: ignore[arg-type]
        clock=clock,
    )
    quality = QualityService(service).attach()
    return Rig(engine, service, quality, clock, notices)


def add_device(
    engine: Engine,
    device_id: str,
    *,
    kind: str = "ac",
    brand: str = "Aurora",
    model: str = "AUR-S35-INV",
    installed_on: date | None = date(2024, 5, 2),
    warranty_until: date | None = date(2027, 5, 2),
    last_seen_at: datetime | None = T0,
) -> None:
    with sessionmaker(engine).begin() as session:
        session.merge(
            Device(
                device_id=device_id,
                kind=kind,
                brand=brand,
                model=model,
                region="CN-32",
                installed_on=installed_on,
                warranty_until=warranty_until,
                refrigerant="R32" if kind == "ac" else None,
                last_seen_at=last_seen_at,
            )
        )


def device_time(engine: Engine, device_id: str, at: datetime) -> None:
    """The device's latest message was at ``at`` (what the ingest registry records)."""
    with sessionmaker(engine).begin() as session:
        session.execute(update(Device).where(Device.device_id == device_id).values(last_seen_at=at))


def add_provider(
    engine: Engine, provider_id: str, techs: Sequence[tuple[str, str]], *, skills: str = "ac"
) -> None:
    """A provider and its technicians ``(id, name)``; badges are ``B-<id>``."""
    from gateway.quality.tables import BadgeRow

    with sessionmaker(engine).begin() as session:
        session.add(
            ProviderRow(
                id=provider_id,
                name=provider_id.replace("_", " ").title(),
                skills=[skills],
                regions=["*"],
                rating=4.0,
                created_wall_at=WALL0,
            )
        )
        session.flush()
        for tech_id, name in techs:
            session.add(
                TechnicianRow(
                    id=tech_id,
                    name=name,
                    provider_id=provider_id,
                    skills=[skills],
                    regions=[],
                    daily_capacity=50,
                    rating=4.0,
                    active=True,
                    created_wall_at=WALL0,
                )
            )
            session.add(BadgeRow(technician_id=tech_id, badge=f"B-{tech_id}"))


FOULING_EVIDENCE = (
    Evidence(signal="condensing_approach_k", baseline=12.0, observed=19.5, unit="K"),
    Evidence(signal="discharge_temp_c", baseline=70.0, observed=78.0, unit="°C"),
    Evidence(signal="current_per_hz_a", baseline=0.1, observed=0.12, unit="A/Hz"),
    Evidence(signal="superheat_k", baseline=5.0, observed=4.4, unit="K"),
)
LEAK_EVIDENCE = (
    Evidence(signal="eev_steps", baseline=220.0, observed=330.0, unit="steps"),
    Evidence(signal="superheat_k", baseline=5.0, observed=11.8, unit="K"),
    Evidence(signal="discharge_temp_c", baseline=70.0, observed=84.0, unit="°C"),
)


def finding(
    device_id: str,
    fault: Fault = Fault.CONDENSER_FOULING,
    *,
    at: datetime = T0,
    evidence: Sequence[Evidence] = FOULING_EVIDENCE,
    severity: Severity = Severity.HIGH,
    kind: Kind = Kind.AC,
) -> Finding:
    return Finding(
        device_id=device_id,
        kind=kind,
        fault=fault,
        confidence=0.8,
        severity=severity,
        observed_at=at,
        evidence=tuple(evidence),
        predicted_failure_at=at + timedelta(days=10),
    )


def recovery(device_id: str, fault: Fault, at: datetime) -> Recovery:
    return Recovery(device_id=device_id, fault=fault, observed_at=at, normal_since=at)


def visit(
    rig: Rig,
    order_id: str,
    technician_id: str,
    *,
    root_cause: str,
    parts: Sequence[str] = (),
    accept_after_h: float = 1.0,
    resolve_after_h: float = 6.0,
    device_id: str | None = None,
    device_at: datetime | None = None,
    second_trip: bool = False,
) -> None:
    """A technician's whole visit: assigned, accepted, scheduled, on site, resolved."""
    s = rig.service
    actor = f"technician:{technician_id}"
    s.transition(order_id, "assigned", actor="dispatch", technician_id=technician_id)
    rig.clock.advance(hours=accept_after_h)
    s.transition(order_id, "accepted", actor=actor)
    s.transition(
        order_id, "scheduled", actor=actor, scheduled_for=rig.clock.now + timedelta(hours=2)
    )
    rig.clock.advance(hours=resolve_after_h / 2)
    s.transition(order_id, "on_site", actor=actor)
    if second_trip:  # needs a part it did not bring: back to scheduled, then on site again
        s.transition(order_id, "scheduled", actor=actor, scheduled_for=rig.clock.now)
        s.transition(order_id, "on_site", actor=actor)
    rig.clock.advance(hours=resolve_after_h / 2)
    if device_id is not None and device_at is not None:
        device_time(rig.engine, device_id, device_at)
    s.transition(order_id, "resolved", actor=actor, root_cause=root_cause, parts_used=list(parts))


def verify_by_telemetry(rig: Rig, device_id: str, fault: Fault, at: datetime) -> None:
    """The detectors see normal behaviour again after the repair, for longer than verify_days."""
    from tests.gateway.workorders.helpers import Dev

    rig.service.on_recovery(recovery(device_id, fault, at))
    rig.service.tick(Dev(device_id).device_id, at)
    rig.service.tick(device_id, at + timedelta(days=2))
