"""Builders shared by the work-order tests: devices, findings, a service on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from detectors.api import Finding, Outcome, Recovery
from edge.contract import Alternative, Evidence, Fault, Kind, Notice, Severity
from gateway.db import create_schema, make_engine
from gateway.device_table import Device
from gateway.workorders import tables  # noqa: F401 - registers the tables
from gateway.workorders.service import ServiceConfig, WorkOrderService

T0 = datetime(2026, 7, 14, 13, 5, tzinfo=UTC)


def fresh_engine(url: str) -> Engine:
    engine = make_engine(url)
    create_schema(engine)
    return engine


def add_device(
    engine: Engine,
    device_id: str,
    *,
    kind: str = "ac",
    brand: str = "Aurora",
    model: str = "AUR-S35-INV",
    region: str = "CN-32",
    warranty_until: date | None = date(2027, 5, 2),
    refrigerant: str | None = "R32",
) -> None:
    with sessionmaker(engine).begin() as session:
        session.merge(
            Device(
                device_id=device_id,
                kind=kind,
                brand=brand,
                model=model,
                region=region,
                warranty_until=warranty_until,
                installed_on=date(2024, 5, 2),
                refrigerant=refrigerant if kind == "ac" else None,
            )
        )


def finding(
    device_id: str = "ac-000123",
    fault: Fault = Fault.REFRIGERANT_LEAK,
    *,
    kind: Kind = Kind.AC,
    at: datetime = T0,
    confidence: float = 0.87,
    severity: Severity = Severity.HIGH,
    observed: float = 11.8,
) -> Finding:
    return Finding(
        device_id=device_id,
        kind=kind,
        fault=fault,
        confidence=confidence,
        severity=severity,
        observed_at=at,
        evidence=(Evidence(signal="superheat_k", baseline=5.1, observed=observed, unit="K"),),
        alternatives=(Alternative(fault=Fault.COMPRESSOR_WEAR, confidence=0.08),),
        predicted_failure_at=at + timedelta(days=7),
    )


def recovery(device_id: str, fault: Fault, at: datetime) -> Recovery:
    return Recovery(device_id=device_id, fault=fault, observed_at=at, normal_since=at)


class Dev:
    """The sink's view of a device (the pipeline passes its own DeviceInfo)."""

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id


class LearningDetector:
    """Records outcomes; the rest of FleetDetector is not needed by the service."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def learn_from_outcome(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def make_service(
    engine: Engine, *, notices: list[Notice] | None = None, **config: Any
) -> tuple[WorkOrderService, LearningDetector]:
    detector = LearningDetector()
    service = WorkOrderService(
        sessionmaker(engine, expire_on_commit=False),
        detector=detector,
        publish_notice=notices.append if notices is not None else None,
        config=ServiceConfig(**config),
    )
    return service, detector


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
