"""The extension points: subscribers hear every change (in its transaction and after it),
may refuse a change by raising, and one adviser may tilt dispatch."""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from edge.contract import Fault, Severity
from gateway.workorders.dispatch import Candidate
from gateway.workorders.events import COMMITTED_EVENTS, OrderChanged
from gateway.workorders.ids import utcnow
from gateway.workorders.tables import AuditRow, ProviderRow, TechnicianRow, WorkOrderRow
from tests.gateway.workorders.helpers import T0, finding, make_service, recovery, sessions


class Recorder:
    """A subscriber that writes down what it hears."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, str | None, str, str]] = []
        self.committed: list[str] = []
        self.in_open_transaction: list[bool] = []

    def order_changed(self, change: OrderChanged, /) -> None:
        self.changes.append((change.action, change.previous, change.row.status, change.actor))
        self.in_open_transaction.append(change.session.in_transaction())

    def order_committed(self, event: str, data: dict[str, Any], /) -> None:
        self.committed.append(event)


class Refuser(Recorder):
    def order_changed(self, change: OrderChanged, /) -> None:
        raise RuntimeError("history store away")


def add_technicians(engine: Engine, *ids_and_providers: tuple[str, str | None]) -> None:
    with sessions(engine).begin() as s:
        for provider in {p for _, p in ids_and_providers if p is not None}:
            s.add(ProviderRow(id=provider, name=provider, created_wall_at=utcnow()))
        s.flush()
        for tech_id, provider_id in ids_and_providers:
            s.add(
                TechnicianRow(
                    id=tech_id,
                    name=tech_id,
                    provider_id=provider_id,
                    skills=["ac"],
                    regions=["*"],
                    daily_capacity=4,
                    rating=4.0,
                    active=True,
                    created_wall_at=utcnow(),
                )
            )


def test_a_subscriber_hears_every_change_in_its_transaction_and_after_it(engine: Engine) -> None:
    service, _ = make_service(engine, auto_assign=False, verify_days=1.0)
    add_technicians(engine, ("tech_1", None))
    heard = Recorder()
    service.subscribe(heard)
    order_id = service.on_finding(finding("ac-1")).order_id or ""
    service.on_finding(finding("ac-1", severity=Severity.CRITICAL))
    service.transition(order_id, "assigned", actor="dispatch", technician_id="tech_1")
    service.transition(order_id, "accepted", actor="technician:tech_1")
    service.transition(order_id, "scheduled", actor="technician:tech_1", scheduled_for=T0)
    service.transition(order_id, "on_site", actor="technician:tech_1")
    service.transition(
        order_id, "resolved", actor="technician:tech_1", root_cause="refrigerant_leak"
    )
    service.on_recovery(recovery("ac-1", Fault.REFRIGERANT_LEAK, T0))
    service.tick("ac-1", T0)
    service.tick("ac-1", T0 + timedelta(days=2))
    assert heard.changes == [
        ("opened", None, "open", "detectors"),
        ("severity_raised", "open", "open", "detectors"),
        ("assigned", "open", "assigned", "dispatch"),
        ("accepted", "assigned", "accepted", "technician:tech_1"),
        ("scheduled", "accepted", "scheduled", "technician:tech_1"),
        ("on_site", "scheduled", "on_site", "technician:tech_1"),
        ("resolved", "on_site", "resolved", "technician:tech_1"),
        ("verified", "resolved", "verified", "telemetry"),
    ]
    assert all(heard.in_open_transaction)
    assert heard.committed == ["opened", *["transition"] * 5, "verified"]
    assert set(heard.committed) <= COMMITTED_EVENTS
    with sessions(engine)() as s:  # one subscriber call per audit entry
        assert s.scalar(select(func.count()).select_from(AuditRow)) == len(heard.changes)


def test_a_subscriber_that_raises_refuses_the_change(engine: Engine) -> None:
    service, _ = make_service(engine, auto_assign=False)
    service.subscribe(Refuser())
    with pytest.raises(RuntimeError, match="history store away"):
        service.on_finding(finding("ac-1"))
    with sessions(engine)() as s:
        assert s.scalar(select(func.count()).select_from(WorkOrderRow)) == 0
        assert s.scalar(select(func.count()).select_from(AuditRow)) == 0


def test_a_failing_listener_is_logged_and_the_next_still_hears(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    service, _ = make_service(engine, auto_assign=False)
    heard: list[str] = []

    def broken(event: str, data: dict[str, Any]) -> None:
        raise ValueError("listener bug")

    service.listeners.append(broken)
    service.listeners.append(lambda event, data: heard.append(event))
    with caplog.at_level(logging.ERROR, logger="gateway.workorders.events"):
        change = service.on_finding(finding("ac-1"))
    assert change.action == "opened"
    assert heard == ["opened"]
    assert "work-order listener failed" in caplog.text


def test_one_adviser_tilts_dispatch_and_can_be_withdrawn(engine: Engine) -> None:
    service, _ = make_service(engine, auto_assign=True)
    add_technicians(engine, ("tech_a", "prov_a"), ("tech_b", "prov_b"))
    brands: list[str | None] = []

    def favour_b(brand: str | None, /) -> Callable[[Candidate], float] | None:
        brands.append(brand)
        return lambda c: 1.0 if c.provider_id == "prov_b" else 0.0

    service.prefer(favour_b)
    first = service.get(service.on_finding(finding("ac-1")).order_id or "")
    assert first["technician_id"] == "tech_b"  # without advice tech_a wins the tie by id
    assert brands == [None]  # the device is not registered: no brand
    service.prefer(None)
    second = service.get(service.on_finding(finding("ac-2")).order_id or "")
    assert second["technician_id"] == "tech_a"


def test_counts_are_a_snapshot(engine: Engine) -> None:
    service, _ = make_service(engine, auto_assign=False)
    service.on_finding(finding("ac-1"))
    counts = service.counts
    counts["opened"] = 99
    assert service.counts == {"opened": 1}


def test_work_orders_do_not_import_service_quality() -> None:
    """Quality depends on work orders, never the other way round (no import circle).

    The wiring that builds both (``gateway.service_loop``) lives outside both packages;
    every work-order module must stay free of ``gateway.quality``.
    """
    package = Path(__file__).parents[3] / "gateway" / "workorders"
    offenders = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("gateway.quality")]
    assert offenders == []
